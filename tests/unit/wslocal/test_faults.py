"""The faults the stage injects: parsed from the command line, drawn at the shares asked."""

import pytest

from wslocal.exceptions import WslocalError
from wslocal.faults import KILL_WITHIN_S, FaultPlan, parse_faults


def test_the_shares_and_the_seed_are_read_from_the_option():
    plan = parse_faults("kill=0.01,post-500=0.02,seed=7")
    assert (plan.kill, plan.post_error, plan.seed) == (0.01, 0.02, 7)


@pytest.mark.parametrize(
    "text", ["kill", "kill=2", "kill=x", "explode=0.1", "seed=1.5", "post-500=-0.1"]
)
def test_a_bad_fault_is_a_clear_error(text):
    with pytest.raises(WslocalError, match="--inject-faults"):
        parse_faults(text)


def test_kills_fall_at_about_their_share_within_the_first_50_ms():
    plan = FaultPlan(kill=0.1, seed=1)
    kills = [after for after in (plan.kill_after_s() for _ in range(10_000)) if after is not None]
    assert 900 < len(kills) < 1100
    assert all(0 <= after <= KILL_WITHIN_S for after in kills)


def test_posts_fail_at_about_their_share():
    plan = FaultPlan(post_error=0.01, seed=2)
    assert 70 < sum(plan.post_fails() for _ in range(10_000)) < 130


def test_the_same_seed_draws_the_same_faults():
    first, second = FaultPlan(kill=0.5, seed=3), FaultPlan(kill=0.5, seed=3)
    assert [first.kill_after_s() for _ in range(20)] == [second.kill_after_s() for _ in range(20)]


def test_no_faults_by_default():
    plan = FaultPlan()
    assert not plan.active and plan.kill_after_s() is None and not plan.post_fails()
