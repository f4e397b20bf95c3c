"""Which resolving candidates a hunt observes now and which wait: lost domains' lookalikes and
redirect/outlink targets always, then earlier deferrals, then by priority."""

from __future__ import annotations

from detect.hunt_order import plan_observation, priority
from detect.model import Candidate


def typo(name: str, seed: str = "quill-courier.info") -> Candidate:
    return Candidate(name, "lookalike", "omission", seed)


def test_lost_lookalikes_and_links_are_never_pushed_out_by_the_cap() -> None:
    swaps = [Candidate(f"quill-ledger.t{i}", "lookalike", "tld-swap", "quill-ledger.com") for i in range(50)]
    cts = [Candidate(f"ct{i}.com", "ct", "quill") for i in range(50)]
    lost = [typo(f"quil-courier{i}.net") for i in range(30)]
    links = [Candidate("next-home.net", "redirect", "quill-herald.com"), Candidate("mirror.org", "outlink", "x.com")]
    plan = plan_observation([*swaps, *cts, *lost, *links], limit=10, lost_seeds={"quill-courier.info"})
    observed = {c.domain for c in plan.observe}
    assert {c.domain for c in [*lost, *links]} <= observed  # 32 > limit: all observed anyway
    assert len(plan.observe) == 32 and len(plan.deferred) == 100
    assert plan.observe[0].source == "redirect"


def test_the_rest_goes_by_priority_up_to_the_limit_and_the_remainder_is_deferred() -> None:
    ct = Candidate("quillnews.com", "ct", "quill")
    swap = Candidate("quill-ledger.net", "lookalike", "tld-swap", "quill-ledger.com")
    typo_ = Candidate("quil-ledger.com", "lookalike", "omission", "quill-ledger.com")
    nrd = Candidate("quill-ledger24.com", "nrd", "feed")
    plan = plan_observation([typo_, nrd, ct, swap], limit=2)
    assert plan.observe == (swap, ct) and plan.deferred == (nrd, typo_)
    assert priority(swap) < priority(ct) < priority(nrd) < priority(typo_)


def test_candidates_deferred_before_go_ahead_of_fresh_ones() -> None:
    old = Candidate("quil-ledger.com", "lookalike", "omission", "quill-ledger.com")
    fresh = [Candidate(f"quill{i}.com", "ct", "quill") for i in range(5)]
    plan = plan_observation([*fresh, old], limit=1, deferred_before={"quil-ledger.com"})
    assert plan.observe == (old,) and len(plan.deferred) == 5
