"""Per-cycle reference model of the systolic schedule (tests only): the same rules, cycle by cycle.

`run_systolic_schedule` computes each block's times in one pass (an O(blocks) recurrence); this
model keeps the state of the DRAM channel and of the array and advances them cycle by cycle:

- each cycle the free DRAM channel starts the ready job with the earliest ready time, a read
  before a write on a tie, then program order; reads come in block order, and block b's read is
  ready once block b-2 has finished computing (two buffer slots per operand);
- a transfer of B bits occupies the channel ceil(B * f / bw) cycles; read data is usable
  `latency` cycles after the transfer ends; writes are posted;
- the array starts block b once it is free and block b's data is usable, and stays busy for the
  block's folds x cycles per fold; a block whose K chunk is its last posts its outputs' write
  when it ends.

It shares only the per-block quantities (bits, folds, fold cycles) with the fast schedule, not
its time arithmetic, so the two agreeing on every counter tests the recurrence.
"""

from __future__ import annotations

from andasim.sim.dataflows.systolic import block_folds


def _blocks(job, mp, dataflow: str) -> list[dict]:
    """The block sequence in loop order with its read bits, compute cycles and write bits."""
    m, k, n = job.m, job.k, job.n
    n_mb, n_nb = -(-m // mp.tm), -(-n // mp.tn)
    n_kb = -(-k // mp.kc) if mp.order == "k_split" else 1
    seq = []
    for _ in range(job.count):
        if mp.order == "weight_outer":
            pairs = [(mi, nj) for nj in range(n_nb) for mi in range(n_mb)]
        else:
            pairs = [(mi, nj) for mi in range(n_mb) for nj in range(n_nb)]
        for i, (mi, nj) in enumerate(pairs):
            for kci in range(n_kb):
                rows_b, cols_b = min(mp.tm, m - mi * mp.tm), min(mp.tn, n - nj * mp.tn)
                kk = min(mp.kc, k - kci * mp.kc) if mp.order == "k_split" else k
                first_of_outer = (i % (n_nb if mp.order != "weight_outer" else n_mb)) == 0
                if mp.order == "k_split":
                    load_a = load_w = True
                elif mp.order == "act_outer":
                    load_a, load_w = first_of_outer, n_nb > 1 or i == 0
                else:
                    load_w, load_a = first_of_outer, n_mb > 1 or i == 0
                folds, per_fold = block_folds(dataflow, rows_b, cols_b, kk, job.rows, job.cols)
                seq.append(
                    {
                        "read": (rows_b * job.act_bits(kk) if load_a else 0)
                        + (cols_b * job.weight_bits(kk) if load_w else 0),
                        "cycles": folds * per_fold,
                        "write": rows_b * cols_b * 16 if (mp.order != "k_split" or kci == n_kb - 1) else 0,
                    }
                )
    return seq


def simulate_systolic_reference(job, mp, dataflow: str, max_cycles: int = 10_000_000) -> dict[str, int]:
    """(cycles, compute_cycles, stall_dram_cycles, dram_busy_cycles) stepped one cycle at a time."""
    blocks = _blocks(job, mp, dataflow)
    n = len(blocks)
    compute_end: list[int | None] = [None] * n  # cycle a block's compute ended
    usable: list[int | None] = [None] * n  # cycle a block's read data is usable
    next_read = next_compute = 0  # reads and computes both go in block order
    writes: list[list[int]] = []  # [ready cycle, bits, served]
    channel_until = 0  # the channel is busy until this cycle
    array_block, array_until = -1, 0
    counters = {"cycles": 0, "compute_cycles": 0, "stall_dram_cycles": 0, "dram_busy_cycles": 0}
    t = 0
    while True:
        if array_block >= 0 and t == array_until:  # a block's compute ends; its outputs' write is posted
            compute_end[array_block] = t
            if blocks[array_block]["write"]:
                writes.append([t, blocks[array_block]["write"], 0])
            array_block = -1
        while t >= channel_until:  # the channel is free: start the most urgent ready job
            options = []
            if next_read < n:
                ready = 0 if next_read < 2 else compute_end[next_read - 2]
                if ready is not None and ready <= t:
                    options.append((ready, 0, next_read))
            options += [(w[0], 1, i) for i, w in enumerate(writes) if not w[2] and w[0] <= t]
            if not options:
                break
            _, is_write, idx = min(options)
            length = job.transfer_cycles(writes[idx][1] if is_write else blocks[idx]["read"])
            channel_until = t + length
            counters["dram_busy_cycles"] += length
            if is_write:
                writes[idx][2] = 1
            else:
                usable[idx] = channel_until + job.dram_latency_cycles
                next_read += 1
        if (
            array_block < 0
            and next_compute < n
            and usable[next_compute] is not None
            and usable[next_compute] <= t
        ):  # the array is free and the next block's data usable
            array_block, array_until = next_compute, t + blocks[next_compute]["cycles"]
            counters["compute_cycles"] += blocks[next_compute]["cycles"]
            next_compute += 1
        if next_compute == n and array_block < 0 and t >= channel_until and all(w[2] for w in writes):
            counters["cycles"] = t
            return counters
        if array_block < 0:
            counters["stall_dram_cycles"] += 1
        t += 1
        if t > max_cycles:
            raise RuntimeError(f"systolic reference did not finish within {max_cycles} cycles")
