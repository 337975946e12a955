"""The mapper: per GeMM, the dataflow and tiling to run, chosen among what the design supports.

Each dataflow the design lists (`hw.dataflow`, docs/hw_config.md) offers its candidate tilings
(`andasim.sim.dataflows.<name>.candidates`); the mapper only chooses. Objectives:

- `min_cycles` (default): the fewest simulated cycles; tilings within `tie_fraction` (1% by
  default, an assumption) of the fewest count as tied and the least DRAM read traffic among them
  wins (otherwise a 100-cycle gain in a 50 M-cycle GeMM would buy gigabytes of re-reads);
- `min_dram`: the least DRAM read traffic, simulated cycles breaking ties.

Simulating every candidate would cost one schedule each, so candidates are visited in the order
of a lower bound on their cycles, max(first block's transfer + latency + closed-form compute
cycles, DRAM transfer cycles of all reads and writes), and simulated until the bound exceeds the
best simulated cycles (branch and bound: exact) or the schedules run have stepped through
`STEP_BUDGET` tiles (then the best found: only large GeMMs with many near-equal tilings hit it).
For `min_cycles`, the least-traffic candidates whose bound lies within the tie band are then
simulated in order of traffic until one lands in the band (or the budget is spent again); for
`min_dram`, the least-traffic candidates are searched the same way. `Mapping.reason` names the
objective, how many candidates were considered and simulated, and the best tiling of every other
dataflow.

Speed without changing a choice: the candidates and their DRAM-independent numbers are cached per
GeMM shape and buffers (`_ranked_candidates`; schedules are not cached, so a repeated call still
runs them), the bounds are computed for all candidates at once (`lower_bounds`, exact integers)
and ranked once (`_rank`: the same total order the search used to sort each pool by). Every
search visits the same candidates in the same order, so the schedules run, the choice and its
reason are unchanged (tests/test_mapping_speed.py checks each fast path against its plain form).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from andasim.errors import AndasimInputError
from andasim.hw.dataflow_config import DEFAULT, DataflowConfig
from andasim.sim.dataflows import DATAFLOWS, Mapping, run_schedule
from andasim.sim.dataflows.tiling import cdiv
from andasim.sim.job import GemmJob

# Work a search phase may spend (see the module docstring): tile steps of the schedules it runs. Small
# GeMMs are searched exhaustively (branch and bound is then exact); a 2048 x 4096 x 12288 GeMM (~1e5
# tile steps per schedule) gets about 20 schedules per phase.
STEP_BUDGET = 2_000_000


def candidates(job: GemmJob, cfg: DataflowConfig = DEFAULT) -> list[Mapping]:
    """Every tiling of every supported dataflow that fits the buffers."""
    out: list[Mapping] = []
    for name in cfg.names:
        out += DATAFLOWS[name].candidates(job, cfg.params(name))
    return out


def schedule_steps(job: GemmJob, mp: Mapping) -> int:
    """About how many tiles the schedule of `mp` steps through (its cost): compute / cycles per tile."""
    per_tile = (cdiv(cdiv(min(mp.kc, job.k), job.lanes), mp.k_ways) if mp.tile_kind == "array"
                else min(mp.tm, job.m)) * job.cps
    return DATAFLOWS[mp.dataflow].compute_cycles(job, mp) // max(per_tile, 1) + 1


def lower_bound_cycles(job: GemmJob, mp: Mapping) -> int:
    """No schedule of `mp` is faster: its first data arrive before any compute; DRAM is one channel."""
    compute = DATAFLOWS[mp.dataflow].compute_cycles(job, mp)
    out_values = cdiv(job.m * job.n * job.out_num, job.out_den)
    writes = job.count * cdiv(out_values * job.out_bits_num, job.out_bits_den)
    first = job.transfer_cycles(mp.act_block_bits + mp.weight_block_bits) + job.dram_latency_cycles
    return max(first + compute, job.transfer_cycles(mp.dram_read_bits + writes))


def _no_fit(job: GemmJob, cfg: DataflowConfig) -> AndasimInputError:
    small_m_only = "; gemv_k_split maps only GeMMs with fewer tokens than array rows" \
        if cfg.names == ("gemv_k_split",) and job.m >= job.rows else ""
    return AndasimInputError(
        f"no supported dataflow ({', '.join(cfg.names)}) fits a {job.m}x{job.k}x{job.n} GeMM in these "
        f"buffers (too small for one {job.rows}x{job.cols} tile): "
        f"act_mantissa {job.act_mant_cap_bits // 8} B, "
        f"act_exponent {job.act_exp_cap_bits // 8} B, weight {job.weight_cap_bits // 8} B, "
        f"output {job.output_cap_bits // 8} B{small_m_only}; "
        + ("enlarge the buffers" if "output_stationary" in cfg.names
           else "add output_stationary to the design's dataflow section or enlarge the buffers"))


def map_and_schedule(job: GemmJob, cfg: DataflowConfig = DEFAULT) -> tuple[Mapping, dict[str, int]]:
    """The chosen mapping (with its reason) and its raw schedule counters."""
    ranked = _ranked_candidates(_dram_free(job), cfg)
    if not ranked.cands:
        raise _no_fit(job, cfg)
    return select(job, ranked, cfg)


@dataclasses.dataclass(frozen=True)
class RankedCandidates:
    """A GeMM's candidates with what their lower bounds need, none of it depending on DRAM timing.

    `compute`: each candidate's closed-form compute cycles; `first_bits`: its first block's bits;
    `read_bits`: its DRAM reads plus the GeMM's writes (object arrays of Python ints); `traffic`:
    each candidate's `dram_read_bits` (int64).
    """

    cands: tuple[Mapping, ...]
    compute: np.ndarray
    first_bits: np.ndarray
    read_bits: np.ndarray
    traffic: np.ndarray


def _dram_free(job: GemmJob) -> GemmJob:
    """`job` with its DRAM timing zeroed: the key under which candidates are shared across designs
    that differ only in DRAM bandwidth, clock or latency (candidates and compute cycles never read them)."""
    return dataclasses.replace(job, dram_bits_per_s=0, freq_hz=0, dram_latency_cycles=0)


# A few entries: a GeMM on a small array has ~10^4 candidates (megabytes); the calls of one point and
# its neighbours along a DRAM axis are what reuse them.
@functools.lru_cache(maxsize=16)
def _ranked_candidates(job: GemmJob, cfg: DataflowConfig) -> RankedCandidates:
    """Candidates of `job` (DRAM timing zeroed, see `_dram_free`) and their DRAM-independent numbers.

    Cached: the mapper's candidates are a pure function of the job's shape, formats and buffers and
    of the dataflow section, and a sweep or a model's repeated layers ask for the same ones again.
    The Mappings are immutable, so sharing them between calls is safe.
    """
    return rank_candidates(job, candidates(job, cfg))


def rank_candidates(job: GemmJob, cands: list[Mapping]) -> RankedCandidates:
    """`cands` with their compute cycles, first-block bits, read + write bits and traffic order."""
    out_values = cdiv(job.m * job.n * job.out_num, job.out_den)
    writes = job.count * cdiv(out_values * job.out_bits_num, job.out_bits_den)
    return RankedCandidates(
        tuple(cands),
        np.array([DATAFLOWS[mp.dataflow].compute_cycles(job, mp) for mp in cands], dtype=object),
        np.array([mp.act_block_bits + mp.weight_block_bits for mp in cands], dtype=object),
        np.array([mp.dram_read_bits + writes for mp in cands], dtype=object),
        np.array([mp.dram_read_bits for mp in cands], dtype=np.int64))


def _transfer_cycles(job: GemmJob, bits: np.ndarray) -> np.ndarray:
    """`job.transfer_cycles` of every element of `bits` (an object array of Python ints), exactly.

    ceil(b * f / bw) == ceil(b * (f / g) / (bw / g)) for g = gcd(f, bw); after that reduction the
    products usually fit int64 (then numpy's floor division, exact on integers, does it); otherwise
    Python's unbounded integers do.
    """
    g = math.gcd(job.freq_hz, job.dram_bits_per_s)
    f, bw = job.freq_hz // g, job.dram_bits_per_s // g
    if len(bits) and max(bits) * f < 2**62:
        return (-(-(bits.astype(np.int64) * f) // bw)).astype(object)
    return np.array([-(-(b * f) // bw) for b in bits], dtype=object)


def lower_bounds(job: GemmJob, ranked: RankedCandidates) -> list[int]:
    """`lower_bound_cycles` of every candidate of `ranked` (the tests check they agree), as Python ints."""
    first = _transfer_cycles(job, ranked.first_bits) + job.dram_latency_cycles
    dram = _transfer_cycles(job, ranked.read_bits)
    return [max(a, b) for a, b in zip((first + ranked.compute).tolist(), dram.tolist(), strict=True)]


def _rank(cands: tuple[Mapping, ...], bound: np.ndarray, traffic: np.ndarray) -> list[int]:
    """Indices of `cands` sorted by (bound, traffic, label), ties in list order: exactly Python's
    stable `sorted` on that key, with labels formatted only where bound and traffic both tie."""
    order = np.lexsort((traffic, bound))  # stable: ties keep list order
    b, t = bound[order], traffic[order]
    cuts = np.flatnonzero((b[1:] != b[:-1]) | (t[1:] != t[:-1])) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [len(order)]))
    out = order.tolist()
    for lo, hi in zip(starts[ends - starts > 1].tolist(), ends[ends - starts > 1].tolist(), strict=True):
        out[lo:hi] = sorted(out[lo:hi], key=lambda i: cands[i].label())
    return out


def select(job: GemmJob, ranked: RankedCandidates, cfg: DataflowConfig) -> tuple[Mapping, dict[str, int]]:
    """Choose among `ranked.cands` (non-empty) by `cfg.objective`: the search of the module docstring.

    Candidates are visited as indices into one list sorted by (bound, traffic, label): every pool a
    search is given is a subsequence of it, hence already in the order the search visits it.
    """
    cands = ranked.cands
    bound = lower_bounds(job, ranked)
    rank = _rank(cands, np.array(bound, dtype=np.int64), ranked.traffic)
    reads = ranked.traffic.tolist()
    simulated: dict[str, tuple[Mapping, dict[str, int]]] = {}

    def search(pool: list[int], limit: float | None = None) -> int:
        """Simulate `pool` (candidate indices in rank order) until the bound passes the best found
        (or `limit`), or the phase has spent `STEP_BUDGET` tile steps."""
        best = None
        spent = 0
        for i in pool:
            mp = cands[i]
            stop = best if limit is None else limit
            if (stop is not None and bound[i] > stop) or spent >= STEP_BUDGET:
                break
            if mp.label() not in simulated:
                simulated[mp.label()] = (mp, run_schedule(job, mp))
                spent += schedule_steps(job, mp)
            cyc = simulated[mp.label()][1]["cycles"]
            best = cyc if best is None else min(best, cyc)
        return best

    least = min(reads)
    if cfg.objective == "min_dram":
        search([i for i in rank if reads[i] == least])
    else:
        fewest = search(rank)
        tie_cycles = fewest * (1 + cfg.tie_fraction)
        in_band = [i for i in rank if bound[i] <= tie_cycles]
        steps_before = sum(schedule_steps(job, mp) for mp, _ in simulated.values())
        for traffic in sorted({reads[i] for i in in_band}):
            found = search([i for i in in_band if reads[i] == traffic], tie_cycles)
            steps = sum(schedule_steps(job, mp) for mp, _ in simulated.values()) - steps_before
            if found <= tie_cycles or steps >= STEP_BUDGET:
                break
    for name in cfg.names:  # the best bound of every other dataflow, for the reason
        if not any(m.dataflow == name for m, _ in simulated.values()):
            i = next((i for i in rank if cands[i].dataflow == name), None)
            if i is not None:
                simulated[cands[i].label()] = (cands[i], run_schedule(job, cands[i]))
    fewest = min(raw["cycles"] for _, raw in simulated.values())
    tie_cycles = fewest * (1 + cfg.tie_fraction)

    def key(item: tuple[Mapping, dict[str, int]]) -> tuple:
        mp, raw = item
        if cfg.objective == "min_dram":
            return (mp.dram_read_bits, raw["cycles"], mp.label())
        return (raw["cycles"] > tie_cycles, mp.dram_read_bits, raw["cycles"], mp.label())

    ordered = sorted(simulated.values(), key=key)
    best, raw = ordered[0]
    others = [next(item for item in ordered if item[0].dataflow == name) for name in cfg.names
              if name != best.dataflow and any(item[0].dataflow == name for item in ordered)]
    why = (f"{best.label()}: {cfg.objective} among {len(cands)} candidate tilings of "
           f"{', '.join(cfg.names)} ({len(simulated)} simulated): {raw['cycles']} cycles, "
           f"{best.dram_read_bits // 8} B read (least possible {least // 8} B)")
    for mp, other_raw in others:
        why += f"; best {mp.dataflow}: {other_raw['cycles']} cycles, {mp.dram_read_bits // 8} B"
    return dataclasses.replace(best, reason=why), raw


def choose_mapping(job: GemmJob, cfg: DataflowConfig = DEFAULT) -> Mapping:
    """The mapping the mapper picks for `job` under the design's dataflow section `cfg`."""
    return map_and_schedule(job, cfg)[0]

