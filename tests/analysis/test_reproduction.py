"""analysis/reproduction.py: a retrained run's log and eval JSON against the committed one's, equal but
for the clock, changed values and additions found, a broken log line named (the command line:
tests/scripts/test_compare_runs.py)."""
import pytest

from analysis.reproduction import compare_evals, compare_logs, parse_log
from tests.reproduction_fixtures import OLD_LOG, eval_json, log_text


def test_logs_equal_but_for_the_clock():
    new = log_text(
        {"kind": "train", "step": 250, "time": 7.0, "elapsed_s": 3.0, "steps_per_s": 80.0, "loss": 1461.82, "kl": 3.1},
        {"kind": "train", "step": 500, "time": 8.0, "elapsed_s": 6.0, "steps_per_s": 80.0, "loss": 447.62, "kl": 11.2},
        {"kind": "eval", "step": 500, "time": 8.5, "elapsed_s": 6.5, "mig": 0.05},
        {"kind": "train", "step": 750, "time": 9.0, "elapsed_s": 9.0, "steps_per_s": 80.0, "loss": 300.0, "kl": 12.0},
    )
    result = compare_logs(OLD_LOG, new)
    assert result.identical
    # train 250 and 500: kind, step, loss, kl; eval 500: kind, step, mig (no clock field counted)
    assert result.compared == 4 + 4 + 3
    assert result.added == ["train step 750"]


def test_log_values_counted_and_a_changed_loss_is_found():
    # compared per line: kind, step and every non-clock value
    new = log_text({"kind": "train", "step": 500, "time": 0.0, "loss": 447.63, "kl": 11.2})
    result = compare_logs(OLD_LOG, new)
    assert result.compared == 4  # kind, step, loss, kl
    assert result.differences == [("train step 500: loss", 447.62, 447.63)]
    assert not result.identical


def test_a_step_only_the_new_log_has_is_an_addition():
    new = log_text({"kind": "eval", "step": 1000, "mig": 0.1})
    result = compare_logs(OLD_LOG, new)
    assert result.identical and result.compared == 0
    assert result.added == ["eval step 1000"]


def test_a_broken_log_line_names_its_line():
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        parse_log('{"step": 1}\n{not json\n', "x.log.jsonl")
    with pytest.raises(ValueError, match="line 1: expected a JSON object with a 'step'"):
        parse_log('[1, 2]\n', "x.log.jsonl")


def test_evals_ignore_timings_and_list_a_new_metric_as_added():
    old = eval_json()
    new = eval_json(elbo=146.57)
    new["metrics"] = ["mig", "st_gap", "elbo"]
    new["times"] = {"mig": 1.0, "elbo": 7.8, "total": 100.0}
    new["created"] = "2026-12-02T00:00:00+0000"
    result = compare_evals(old, new)
    assert result.identical
    assert sorted(result.added) == ["metrics: elbo", "results.elbo"]
    # model, seed, step, the metrics list, results.mig, results.st_gap
    assert result.compared == 6


def test_evals_find_a_moved_metric():
    result = compare_evals(eval_json(), eval_json(mig=0.0692))
    assert result.differences == [("results.mig", 0.0691, 0.0692)]
