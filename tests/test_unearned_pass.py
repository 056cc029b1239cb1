"""No PASS that was not earned (issue "Fail closed, round two", its first items).

Each test is a spec or a run that used to give PASS (or a quiet acceptance) with nothing judged:
a delta check allowed to run first on an empty or misspelt history, a spec of only nice checks, a
model whose parts come from outside Keras, an AUC of a column against itself.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from factory import SHIPPED_SPEC, dense, functional, keras_file, make_run

from validators import cli
from validators.errors import SpecError
from validators.gate import evaluate
from validators.spec import parse_spec

FIXTURE = SHIPPED_SPEC.parent.parent / "fixtures" / "runs" / "run3_relu"

DELTA_FIRST_RUN = """
[baseline]
allow_first_run = true

[[check]]
id = "auc-vs-baseline"
kind = "delta"
severity = "must"
metric = "{metric}"
epoch = "best"
monitor = "{metric}"
mode = "max"
ge = -0.01
"""


def gate(tmp_path, spec_text, run_dir, *extra):
    spec = tmp_path / "gate.toml"
    spec.write_text(spec_text)
    report = tmp_path / "report.json"
    code = cli.main(["check", str(run_dir), "--spec", str(spec), "--json", str(report), *extra])
    return code, json.loads(report.read_text()) if report.exists() else None


def test_first_run_delta_on_an_empty_directory_is_an_error(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, report = gate(tmp_path, DELTA_FIRST_RUN.format(metric="val_direction_auc"), empty)
    out = capsys.readouterr().out
    assert code == 2 and report["verdict"] == "error", out
    assert "no history artefact" in report["checks"][0]["message"]


def test_first_run_delta_with_a_misspelt_metric_is_an_error(tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    code, report = gate(tmp_path, DELTA_FIRST_RUN.format(metric="val_direction_acu"), run)
    capsys.readouterr()
    assert code == 2
    assert "no metric 'val_direction_acu' in the history" in report["checks"][0]["message"]


def test_first_run_delta_reads_the_candidates_own_metric(tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    code, report = gate(tmp_path, DELTA_FIRST_RUN.format(metric="val_direction_auc"), run)
    capsys.readouterr()
    check = report["checks"][0]
    assert code == 0 and check["status"] == "pass"
    assert check["evidence"]["compared"] is False
    assert check["evidence"]["candidate"] == pytest.approx(0.8570933938026428)  # fixtures/README.md, best epoch 16
    assert check["evidence"]["candidate_epoch"] == 16


def test_a_spec_of_nice_checks_only_is_never_a_pass(tmp_path, capsys):
    text = SHIPPED_SPEC.read_text().replace('severity = "must"', 'severity = "nice"')
    empty = tmp_path / "empty"
    empty.mkdir()
    for run in (empty, FIXTURE):  # nothing read, or everything passing: no must check, no pass
        code, report = gate(tmp_path, text, run)
        out = capsys.readouterr().out
        assert code == 2 and report["verdict"] == "error", out
        assert "Verdict: ERROR" in out


def test_tensorboard_in_artefacts_is_refused_not_ignored():
    with pytest.raises(SpecError, match="unknown artefact 'tensorboard'") as info:
        parse_spec('[artefacts]\ntensorboard = "does-not-exist"\n\n[[check]]\nid = "a"\nkind = "history"\n'
                   'severity = "must"\nmetric = "loss"\nlt = 1.0\n', "gate.toml")
    assert "history" in str(info.value)  # the hint says where TensorBoard logs go


def test_tensorboard_is_refused_on_the_command_line(tmp_path, capsys):
    code = cli.main(["check", str(FIXTURE), "--spec", str(SHIPPED_SPEC), "--artefact", "tensorboard=logs"])
    err = capsys.readouterr().err
    assert code == 4 and "tensorboard" in err


@pytest.mark.parametrize("where", ["activation", "layer"])
def test_a_model_part_from_outside_keras_is_an_error_not_relu(tmp_path, where):
    foreign = {"module": "acme_ops.activations", "class_name": "Relu", "config": {}, "registered_name": "relu"}
    head = dense("volatility")
    if where == "activation":
        head["config"]["activation"] = foreign
    else:
        head["module"] = "acme_ops.layers"
    layers = [dense("fusion", units=8), dense("direction", activation="sigmoid"), head, dense("magnitude")]
    run = make_run(tmp_path / "run")
    keras_file(run / "model.keras", functional(layers, [["direction", 0, 0], ["volatility", 0, 0],
                                                        ["magnitude", 0, 0]]))
    report = evaluate(parse_spec(SHIPPED_SPEC.read_text(), str(SHIPPED_SPEC)), run)
    results = {r.id: r for r in report.results}
    assert results["volatility-head"].status == "error"
    assert "outside Keras" in results["volatility-head"].message
    assert results["magnitude-head"].status == "error"  # the model as a whole needs custom code to load
    assert report.verdict == "error"


def test_auc_of_the_label_against_itself_is_a_spec_error():
    with pytest.raises(SpecError, match="is the score column itself"):
        parse_spec('[[check]]\nid = "a"\nkind = "auc"\nseverity = "must"\ncolumn = "y_direction"\n'
                   'label_column = "y_direction"\nge = 0.65\n', "gate.toml")


def test_a_link_out_of_the_run_is_refused_and_its_target_never_quoted(tmp_path, capsys):
    secret = tmp_path / "secrets.yaml"
    secret.write_text("aws_secret_access_key,AKIA-SHOULD-NEVER-BE-PRINTED\n1,2\n")
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    (run / "predictions.csv").unlink()
    (run / "predictions.csv").symlink_to(secret)
    code, report = gate(tmp_path, SHIPPED_SPEC.read_text(), run)
    out = capsys.readouterr().out
    assert code == 2
    assert "AKIA" not in out and "AKIA" not in json.dumps(report)
    errors = [c for c in report["checks"] if c["status"] == "error"]
    assert errors and all("leads outside the run directory" in c["message"] for c in errors)
    assert errors[0]["evidence"]["file"] == str(run / "predictions.csv")


def test_a_folder_link_out_of_the_run_is_refused_for_a_declared_path(tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    (run / "root").symlink_to("/")
    code, _ = gate(tmp_path, SHIPPED_SPEC.read_text(), run, "--artefact", "predictions=root/etc/passwd")
    out = capsys.readouterr().out
    assert code == 2 and "root:x:0" not in out and ":/bin/" not in out  # nothing of /etc/passwd
    assert "root: leads outside the run directory" in out or f"{run / 'root'}: leads outside" in out


def test_a_log_file_linked_out_of_the_run_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    for name in ("history.csv", "history.json"):
        (run / name).unlink()
    event = next((run / "logs" / "train").iterdir())
    outside = tmp_path / event.name
    shutil.move(event, outside)
    event.symlink_to(outside)
    code, report = gate(tmp_path, SHIPPED_SPEC.read_text(), run)
    capsys.readouterr()
    assert code == 2
    assert any("leads outside the run directory" in c["message"] for c in report["checks"])


def test_links_inside_the_run_stay_allowed(tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    (run / "data").mkdir()
    shutil.move(run / "predictions.csv", run / "data" / "predictions.csv")
    (run / "predictions.csv").symlink_to(Path("data") / "predictions.csv")
    code, _ = gate(tmp_path, SHIPPED_SPEC.read_text(), run)
    capsys.readouterr()
    assert code == 0


# -- values no metric can take, epochs without validation --------------------------------------

HISTORY_CHECK = """
[[check]]
id = "c"
kind = "history"
severity = "must"
metric = "{metric}"
epoch = "{epoch}"
{extra}
{bound}
"""


def history_gate(tmp_path, frame, metric, bound, epoch="last", extra="", compile_config=None):
    from factory import healthy_history

    run = make_run(tmp_path / "run", history=frame if frame is not None else healthy_history(),
                   compile_config=compile_config)
    spec = parse_spec(HISTORY_CHECK.format(metric=metric, epoch=epoch, extra=extra, bound=bound), "gate.toml")
    return evaluate(spec, run).results[0]


@pytest.mark.parametrize("metric, value", [("val_direction_auc", 1.5), ("val_direction_auc", 1e308),
                                           ("direction_auc", -0.1), ("val_volatility_mae", -0.002)])
def test_a_value_no_such_metric_can_take_is_an_error_naming_the_epoch(tmp_path, metric, value):
    from factory import healthy_history

    frame = healthy_history()
    frame.loc[2, metric] = value
    r = history_gate(tmp_path, frame, metric, "ge = 0.0")
    assert r.status == "error"
    assert f"{metric} = {value!r} at epoch 2" in r.message and "the history is corrupt" in r.message


def test_a_negative_mse_loss_is_an_error_when_the_model_says_mse(tmp_path):
    from factory import healthy_history

    frame = healthy_history()
    frame.loc[3, "volatility_loss"] = -0.001
    r = history_gate(tmp_path, frame, "volatility_loss", "lt = 0.01")
    assert r.status == "error" and "volatility_loss = -0.001 at epoch 3" in r.message


def test_a_negative_loss_of_an_unknown_function_is_judged_as_it_is(tmp_path):
    from factory import HEALTHY_COMPILE, healthy_history

    custom = {**HEALTHY_COMPILE, "loss": {"direction": "binary_crossentropy", "volatility": "my_signed_loss",
                                          "magnitude": "mse"}}
    frame = healthy_history()
    frame.loc[3, "volatility_loss"] = -0.001  # Keras allows any loss: nothing to say it is impossible
    r = history_gate(tmp_path, frame, "volatility_loss", "lt = 0.01", compile_config=custom)
    assert r.status == "pass"


def _validation_every_other_epoch(frame):
    val = [c for c in frame.columns if c.startswith("val_")]
    frame = frame.astype({c: object for c in val})
    frame.loc[frame.index % 2 == 1, val] = "NA"  # what CSVLogger writes when fit(validation_freq=2) skips
    return frame


def test_epochs_without_validation_are_skipped_not_called_unstable(tmp_path):
    from factory import healthy_history

    frame = _validation_every_other_epoch(healthy_history())
    r = history_gate(tmp_path, frame, "val_direction_auc", "ge = 0.65", epoch="best",
                     extra='monitor = "val_direction_auc"\nmode = "max"')
    assert r.status == "pass", r.message
    assert "without validation skipped" in r.message
    assert r.evidence["epochs_without_validation"][:2] == [1, 3]


def test_last_epoch_of_a_val_metric_is_the_last_validated_one(tmp_path):
    from factory import healthy_history

    frame = _validation_every_other_epoch(healthy_history())
    last = len(frame) - 1
    assert last % 2 == 1, "the fixture's last epoch must be one without validation"
    r = history_gate(tmp_path, frame, "val_direction_auc", "ge = 0.0")
    assert r.status == "pass" and r.evidence["epoch"] == last - 1
    assert r.evidence["epoch_rule"] == "last validated"


def test_a_nan_on_a_validated_epoch_still_fails(tmp_path):
    from factory import healthy_history

    frame = _validation_every_other_epoch(healthy_history())
    frame.loc[2, "val_direction_auc"] = "nan"  # epoch 2 was validated: its other val_* metrics are there
    r = history_gate(tmp_path, frame, "val_direction_auc", "ge = 0.0", epoch="best",
                     extra='monitor = "val_direction_auc"\nmode = "max"')
    assert r.status == "fail" and "not finite" in r.message and "(2)" in r.message


# -- exit 3 only for bugs; small hostile inputs ----------------------------------------------

BIG = "1" * 5000  # more digits than Python converts to int by default (4300)


@pytest.mark.parametrize("name, text", [
    ("history.json", '{"loss": [' + BIG + ']}'),
    ("history.json", '{"loss": [1' + "0" * 400 + ']}'),
    ("config.json", '{"loss_weights": ' + BIG + '}'),
])
def test_huge_integers_in_artefacts_are_errors_not_crashes(tmp_path, capsys, name, text):
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    for other in ("history.csv", "logs"):
        path = run / other
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    (run / name).write_text(text)
    from factory import SPEC

    code = cli.main(["check", str(run), "--spec", str(SPEC)])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert "internal error" not in out + err


def test_a_huge_integer_in_the_spec_is_a_spec_error(tmp_path, capsys):
    spec = tmp_path / "gate.toml"
    text = SHIPPED_SPEC.read_text()
    assert "\nn_splits = 16\n" in text  # the edit below must change something
    spec.write_text(text.replace("\nn_splits = 16\n", f"\nn_splits = {BIG}\n", 1))
    assert cli.main(["validate", str(spec)]) == 4
    assert "internal error" not in capsys.readouterr().err


def test_a_spec_with_a_bom_is_read(tmp_path, capsys):
    spec = tmp_path / "gate.toml"
    spec.write_bytes(b"\xef\xbb\xbf" + SHIPPED_SPEC.read_bytes())
    assert cli.main(["check", str(FIXTURE), "--spec", str(spec), "--quiet"]) == 0
    capsys.readouterr()


def test_a_nul_in_an_artefact_path_is_refused_up_front(tmp_path, capsys):
    spec = tmp_path / "gate.toml"
    spec.write_text('[artefacts]\npredictions = "pred\\u0000.csv"\n' + SHIPPED_SPEC.read_text())
    assert cli.main(["validate", str(spec)]) == 4
    assert cli.main(["check", str(FIXTURE), "--spec", str(spec)]) == 4
    assert cli.main(["check", str(FIXTURE), "--spec", str(SHIPPED_SPEC), "--artefact", "predictions=a\x00b"]) == 4
    err = capsys.readouterr().err
    assert "NUL" in err and "internal error" not in err


def test_a_named_pipe_as_the_spec_is_refused_without_blocking(tmp_path, capsys):
    import os

    fifo = tmp_path / "spec.toml"
    os.mkfifo(fifo)
    assert cli.main(["validate", str(fifo)]) == 4
    assert cli.main(["check", str(FIXTURE), "--spec", str(fifo)]) == 4
    assert "not a regular file" in capsys.readouterr().err


@pytest.mark.parametrize("kind, extra", [("sharpe", "trial = \"best\"\nperiods_per_year = 252\ngt = 0.5"),
                                         ("psr", "sr_benchmark = 0.0\nge = 0.95"), ("dsr", "ge = 0.95")])
@pytest.mark.parametrize("periods", [2, 3, 29])
def test_sharpe_family_on_too_few_periods_is_an_error(tmp_path, kind, extra, periods):
    from factory import healthy_returns

    returns = healthy_returns(rows=periods, trials=4) + 0.01  # clearly positive: would pass if judged
    run = make_run(tmp_path / "run", returns=returns)
    spec = parse_spec(f'[[check]]\nid = "c"\nkind = "{kind}"\nseverity = "must"\n{extra}\n', "gate.toml")
    r = evaluate(spec, run).results[0]
    assert r.status == "error" and f"{periods} periods" in r.message and "at least 30" in r.message


def test_a_report_name_near_the_file_system_limit_is_written(tmp_path, capsys):
    name = "r" * 250 + ".json"  # 255 bytes: the longest name most file systems take
    code = cli.main(["check", str(FIXTURE), "--spec", str(SHIPPED_SPEC), "--quiet", "--json", str(tmp_path / name)])
    capsys.readouterr()
    assert code == 0 and json.loads((tmp_path / name).read_text())["exit_code"] == 0
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left beside it


def test_the_json_report_carries_the_process_exit_code_when_another_report_fails(tmp_path, capsys):
    report = tmp_path / "r.json"
    code = cli.main(["check", str(FIXTURE), "--spec", str(SHIPPED_SPEC), "--quiet", "--json", str(report),
                     "--html", str(tmp_path / "no-such-folder" / "r.html")])
    capsys.readouterr()
    assert code == 2
    assert json.loads(report.read_text())["exit_code"] == 2  # the gate passed; the process did not


def test_column_names_are_compared_after_unicode_nfc(tmp_path, capsys):
    import unicodedata

    import pandas as pd

    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    frame = pd.read_csv(run / "predictions.csv", dtype=str)
    decomposed = unicodedata.normalize("NFD", "volatilité")  # 'e' + U+0301, as some tools write it
    frame = frame.rename(columns={"volatility": decomposed})
    frame.to_csv(run / "predictions.csv", index=False)
    spec = SHIPPED_SPEC.read_text().replace('column = "volatility"', 'column = "volatilit\u00e9"')
    code, report = gate(tmp_path, spec, run)
    capsys.readouterr()
    assert code == 0, [c["message"] for c in report["checks"] if c["status"] != "pass"]


def test_std_with_ddof_at_or_above_the_count_fails_not_crashes(tmp_path, capsys):
    spec = ('[[check]]\nid = "s"\nkind = "statistic"\nseverity = "must"\ncolumn = "volatility"\nstat = "std"\n'
            'ddof = 1000\nle = 1.0\n')  # the fixture has exactly 1000 validation rows
    code, report = gate(tmp_path, spec, FIXTURE)
    capsys.readouterr()
    assert code == 1 and report["checks"][0]["status"] == "fail"
    assert "needs more than 1000 values, the run has 1000" in report["checks"][0]["message"]


def _gate_process(*args, env=None):
    import os
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-m", "validators", "check", *args], cwd=SHIPPED_SPEC.parent.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def test_a_stdout_that_cannot_encode_the_advice_keeps_the_verdicts_exit_code():
    proc = _gate_process(str(FIXTURE), "--spec", str(SHIPPED_SPEC), env={"PYTHONIOENCODING": "ascii"})
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "L\\xf3pez de Prado" in out  # escaped, not a crash on the plan's "López"


@pytest.mark.parametrize("signame, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_mid_sweep_exits_with_the_shells_code_and_one_line(tmp_path, signame, code):
    import signal
    import time

    report = tmp_path / "sweep.json"
    report.write_text('{"previous": true}\n')
    proc = _gate_process(*([str(FIXTURE)] * 60), "--spec", str(SHIPPED_SPEC), "--jobs", "1", "--json", str(report))
    time.sleep(2.0)  # the cold start and a few of the 60 gates (each ~0.1 s); the sweep prints at its end
    assert proc.poll() is None, "the sweep ended before the signal: make it longer"
    proc.send_signal(getattr(signal, signame))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert json.loads(report.read_text()) == {"previous": True}  # the previous report is intact


def test_a_sweep_never_starts_more_workers_than_runs(tmp_path, capsys, monkeypatch):
    import concurrent.futures

    started = []

    class Recorded(concurrent.futures.ProcessPoolExecutor):  # the real pool, its size noted
        def __init__(self, max_workers=None, **kw):
            started.append(max_workers)
            super().__init__(max_workers=max_workers, **kw)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Recorded)
    code = cli.main(["check", str(FIXTURE), str(FIXTURE), "--spec", str(SHIPPED_SPEC), "--jobs", "2000", "--quiet"])
    capsys.readouterr()
    assert code == 0 and started == [2]


def test_a_named_pipe_as_the_step_summary_is_refused_without_blocking(tmp_path, capsys, monkeypatch):
    import os

    fifo = tmp_path / "summary"
    os.mkfifo(fifo)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(fifo))
    assert cli.main(["check", str(FIXTURE), "--spec", str(SHIPPED_SPEC), "--quiet"]) == 2
    assert "cannot append to $GITHUB_STEP_SUMMARY: not a regular file" in capsys.readouterr().err
