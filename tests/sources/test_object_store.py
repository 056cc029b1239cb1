"""Runs under an object-store prefix (``validators/sources/object_store.py``).

S3 is moto's server (``moto_server``), started here on 127.0.0.1 at a free port and stopped
after; objects are uploaded with boto3. ``memory://`` and ``file://`` need no server. Requests
the gate makes are counted by the server itself (moto's request recorder), not by us.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from factory import SHIPPED_SPEC
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

boto3 = pytest.importorskip("boto3")
fsspec = pytest.importorskip("fsspec")
pytest.importorskip("s3fs")
pytest.importorskip("moto")

from validators.artefacts.layout import CONVENTIONS
from validators.cli import main
from validators.sources import object_store

ROOT = Path(__file__).resolve().parents[2]
RUNS = {name: ROOT / "fixtures" / "runs" / name for name in ("run3_relu", "run2_sigmoid")}
BUCKET = "runs-bucket"
KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_moto(tmp, **env):
    """A moto S3 server on 127.0.0.1; ``(process, endpoint, recording file)``."""
    port = _free_port()
    recording = Path(tmp) / f"recording-{port}.jsonl"
    server = Path(sys.executable).with_name("moto_server")
    command = [str(server)] if server.exists() else [sys.executable, "-m", "moto.server"]
    with open(Path(tmp) / f"moto-{port}.log", "wb") as log:  # the server keeps its own descriptor
        process = subprocess.Popen([*command, "-H", "127.0.0.1", "-p", str(port)], stdout=log,
                                   stderr=subprocess.STDOUT,
                                   env={**os.environ, "MOTO_RECORDER_FILEPATH": str(recording), **env})
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).close()
            return process, endpoint, recording
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                _stop(process)
                raise RuntimeError(f"moto_server did not start: {(Path(tmp) / f'moto-{port}.log').read_text()[-2000:]}")
            time.sleep(0.1)


def _stop(process) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    process, endpoint, recording = _start_moto(tmp_path_factory.mktemp("moto"))
    try:
        client = _client(endpoint)
        client.create_bucket(Bucket=BUCKET)
        for name, run in RUNS.items():
            upload(client, run, f"team/{name}")
        # a big object no check reads: it must never be downloaded
        client.put_object(Bucket=BUCKET, Key="team/run3_relu/checkpoints/ckpt.bin", Body=os.urandom(4 << 20))
        yield {"endpoint": endpoint, "client": client, "recording": recording}
    finally:
        _stop(process)


def _client(endpoint):
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
                        region_name="us-east-1")


def upload(client, run: Path, prefix: str, bucket: str = BUCKET) -> None:
    for path in sorted(run.rglob("*")):
        if path.is_file():
            client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(run).as_posix()}")


@pytest.fixture
def s3_env(moto, monkeypatch, tmp_path):
    """The usual variables pointing at the local endpoint; nothing else (no profile, no instance metadata)."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto["endpoint"])
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    return moto


def _recorded(moto, action):
    """The requests the server recorded while ``action()`` ran: ``[(method, url)]``."""
    base = moto["endpoint"] + "/moto-api/recorder/"
    for step in ("reset-recording", "start-recording"):
        urllib.request.urlopen(urllib.request.Request(base + step, method="POST"), timeout=5).close()
    try:
        result = action()
    finally:
        urllib.request.urlopen(urllib.request.Request(base + "stop-recording", method="POST"), timeout=5).close()
    text = moto["recording"].read_text() if moto["recording"].exists() else ""
    return result, [(e["method"], e["url"]) for e in map(json.loads, filter(None, text.splitlines()))]


def _check(location, tmp_path, *extra):
    out = tmp_path / f"report-{abs(hash(str(location)))}.json"
    code = main(["check", *map(str, location if isinstance(location, list) else [location]), "--spec",
                 str(SHIPPED_SPEC), "--json", str(out), "--quiet", *extra])
    return code, json.loads(out.read_text())


def _statuses(report) -> dict:
    return {c["id"]: c["status"] for c in report["checks"]}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- S3: same verdicts, the URL and every hash in the report ---------------------------------
@pytest.mark.parametrize("name", sorted(RUNS))
def test_a_run_on_s3_gets_the_statuses_of_the_local_folder(s3_env, tmp_path, name):
    local_code, local = _check(RUNS[name], tmp_path)
    url = f"s3://{BUCKET}/team/{name}"
    code, remote = _check(url, tmp_path)
    assert code == local_code
    assert _statuses(remote) == _statuses(local)
    assert [c["status"] for c in remote["checks"]] == [c["status"] for c in local["checks"]]
    source = remote["run"]["source"]
    assert remote["run"]["path"] == url and source["location"] == url
    fetched = {o["path"]: o for o in source["objects"]}
    assert "checkpoints/ckpt.bin" not in fetched
    for rel, obj in fetched.items():
        assert obj["url"] == f"{url}/{rel}"
        assert obj["sha256"] == _sha256(RUNS[name] / rel) and obj["size"] == (RUNS[name] / rel).stat().st_size
    assert {"predictions.csv", "history.csv", "returns.csv", "model.keras", "config.json"} <= set(fetched)
    assert all(a["path"].startswith(url + "/") for a in remote["run"]["artefacts"])
    assert "runverdict-fetch-" not in json.dumps(remote)  # the private copy is never named


def test_only_the_objects_the_spec_needs_are_read(s3_env, tmp_path):
    spec = tmp_path / "predictions_only.toml"
    spec.write_text('name = "one check"\n[[check]]\nid = "vol"\nkind = "statistic"\nseverity = "must"\ncolumn = "volatility"\n'
                    'stat = "max"\nlt = 0.15\n')
    url = f"s3://{BUCKET}/team/run3_relu"
    code, requests = _recorded(s3_env, lambda: main(["check", url, "--spec", str(spec), "--quiet"]))
    assert code == 0
    gets = [u for m, u in requests if m == "GET" and "list-type" not in u]
    assert gets and all("predictions.csv" in u for u in gets), gets  # nothing but the predictions
    assert not any("ckpt.bin" in u for _, u in requests)
    # the plan's spec: every artefact, still never the checkpoint
    code, requests = _recorded(s3_env, lambda: main(["check", url, "--spec", str(SHIPPED_SPEC), "--quiet"]))
    assert code == 0 and not any("ckpt.bin" in u for _, u in requests)
    assert any("model.keras" in u for m, u in requests if m == "GET")


def test_a_declared_artefact_is_fetched(s3_env, tmp_path):
    client = s3_env["client"]
    upload(client, RUNS["run3_relu"], "declared/run")
    client.copy_object(Bucket=BUCKET, Key="declared/run/strategy_returns.csv",
                       CopySource={"Bucket": BUCKET, "Key": "declared/run/returns.csv"})
    client.delete_object(Bucket=BUCKET, Key="declared/run/returns.csv")
    code, report = _check(f"s3://{BUCKET}/declared/run", tmp_path, "--artefact", "returns=strategy_returns.csv")
    local_code, local = _check(RUNS["run3_relu"], tmp_path)
    assert (code, _statuses(report)) == (local_code, _statuses(local))
    assert "strategy_returns.csv" in {o["path"] for o in report["run"]["source"]["objects"]}


# -- memory:// and file:// ---------------------------------------------------------------------
def _to_memory(run: Path, prefix: str) -> str:
    memory = fsspec.filesystem("memory")
    for path in run.rglob("*"):
        if path.is_file():
            memory.pipe(f"/{prefix}/{path.relative_to(run).as_posix()}", path.read_bytes())
    return f"memory://{prefix}"


@pytest.mark.parametrize("name", sorted(RUNS))
def test_memory_and_file_sources_get_the_statuses_of_the_local_folder(tmp_path, name):
    local_code, local = _check(RUNS[name], tmp_path)
    for url in (_to_memory(RUNS[name], f"mem-{name}"), f"file://{RUNS[name]}"):
        code, report = _check(url, tmp_path)
        assert (code, _statuses(report)) == (local_code, _statuses(local)), url
        assert report["run"]["source"]["location"] == url
        assert all(o["sha256"] == _sha256(RUNS[name] / o["path"]) for o in report["run"]["source"]["objects"])


# -- what is refused ------------------------------------------------------------------------------
def _refused(capsys, location, *extra, seconds=15.0):
    start = time.monotonic()
    code = main(["check", location, "--spec", str(SHIPPED_SPEC), "--quiet", *extra])
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    assert code == 2, err
    assert elapsed < seconds, elapsed
    return err


@pytest.mark.parametrize("location, says", [
    ("s3://no-such-bucket-runverdict/run", "bucket 'no-such-bucket-"),
    (f"s3://{BUCKET}/team/nothing-here", "no objects under this prefix"),
    (f"s3://{BUCKET}/team/run3_relu/predictions.csv", "is an object, not a prefix"),
    ("memory://never-written", "no objects under this prefix"),
    ("file:///no/such/run/folder", "no objects under this prefix"),
])
def test_a_location_that_holds_no_run_is_an_error_naming_it(s3_env, capsys, location, says):
    err = _refused(capsys, location)
    assert f"runverdict: {location}: " in err and says in err


def test_missing_credentials_are_an_error_naming_the_url(s3_env, monkeypatch, capsys):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    err = _refused(capsys, f"s3://{BUCKET}/team/run3_relu")
    assert f"s3://{BUCKET}/team/run3_relu: no credentials for the store" in err and "AWS_ACCESS_KEY_ID" in err


def test_an_unreachable_endpoint_fails_in_seconds(s3_env, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_free_port()}")  # nothing listens there
    err = _refused(capsys, f"s3://{BUCKET}/team/run3_relu", seconds=10.0)
    assert f"s3://{BUCKET}/team/run3_relu: the store cannot be reached" in err


def test_an_endpoint_that_never_answers_times_out(s3_env, monkeypatch, capsys):
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setattr(object_store, "ATTEMPTS", 1)
        from validators.sources import SourceOptions, materialise
        from validators.spec import load_spec

        start = time.monotonic()
        with pytest.raises(object_store.ArtefactError, match="cannot be reached"), \
                materialise(f"s3://{BUCKET}/team/run3_relu", load_spec(SHIPPED_SPEC), SourceOptions(timeout=1.0)):
            pass
        assert time.monotonic() - start < 10


def test_access_denied_is_an_error_naming_the_url(tmp_path, monkeypatch, capsys, s3_env):
    # a second server enforcing IAM after the setup's requests: a user that may list, not read
    setup = 6  # create_user, create_access_key, put_user_policy, create_bucket, two put_object
    process, endpoint, _ = _start_moto(tmp_path, INITIAL_NO_AUTH_ACTION_COUNT=str(setup))
    try:
        iam = boto3.client("iam", endpoint_url=endpoint, aws_access_key_id="testing",
                           aws_secret_access_key="testing", region_name="us-east-1")
        iam.create_user(UserName="reader")
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        iam.put_user_policy(UserName="reader", PolicyName="list-only", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "*"}]}))
        client = _client(endpoint)
        client.create_bucket(Bucket="locked")
        for name in ("predictions.csv", "history.csv"):
            client.put_object(Bucket="locked", Key=f"run/{name}", Body=(RUNS["run3_relu"] / name).read_bytes())
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        err = _refused(capsys, "s3://locked/run")
        assert "access denied by the store" in err and "s3://locked/run/" in err
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")  # a wrong secret: refused at the listing
        err = _refused(capsys, "s3://locked/run")
        assert "runverdict: s3://locked/run: access denied by the store" in err
    finally:
        _stop(process)


def test_an_object_over_its_limit_is_refused_before_it_is_downloaded(s3_env, monkeypatch, capsys):
    monkeypatch.setenv("RUNVERDICT_MAX_FILE_BYTES", "100000")  # predictions.csv is 112 628 bytes
    url = f"s3://{BUCKET}/team/run3_relu"
    err, requests = _recorded(s3_env, lambda: _refused(capsys, url))
    assert f"{url}/predictions.csv: is 112628 bytes, more than the 100000-byte limit" in err
    assert "refused before downloading it" in err
    assert [m for m, _ in requests] and all(m in ("GET", "HEAD") and "list-type" in u for m, u in requests
                                            if m == "GET"), requests  # listings only: nothing downloaded


def _changing(monkeypatch, key_suffix, change):
    """Replace ``key_suffix``'s object between the listing and its read (deterministically: at the read)."""
    original = object_store._Store.download

    def download(self, item, into):
        if item.key == key_suffix:
            change()
        return original(self, item, into)

    monkeypatch.setattr(object_store._Store, "download", download)


def test_an_object_replaced_between_listing_and_reading_is_an_error(s3_env, monkeypatch, capsys):
    client = s3_env["client"]
    upload(client, RUNS["run3_relu"], "changing/run")
    body = (RUNS["run3_relu"] / "config.json").read_bytes()
    same_size = body.replace(b"0.3", b"0.4", 1)
    assert len(same_size) == len(body) and same_size != body
    _changing(monkeypatch, "config.json",
              lambda: client.put_object(Bucket=BUCKET, Key="changing/run/config.json", Body=same_size))
    err = _refused(capsys, f"s3://{BUCKET}/changing/run")
    assert f"s3://{BUCKET}/changing/run/config.json: changed between listing and reading" in err


@pytest.mark.parametrize("change", ["same size", "longer", "deleted"])
def test_a_memory_object_replaced_between_listing_and_reading_is_an_error(monkeypatch, capsys, change):
    url = _to_memory(RUNS["run3_relu"], f"changing-{change.replace(' ', '-')}")
    memory = fsspec.filesystem("memory")
    path = url[len("memory:/"):] + "/predictions.csv"
    body = memory.cat_file(path)
    new = {"same size": body[:-2] + b"9\n", "longer": body + body[-50:], "deleted": None}[change]
    _changing(monkeypatch, "predictions.csv", lambda: memory.rm(path) if new is None else memory.pipe(path, new))
    err = _refused(capsys, url)
    assert f"{url}/predictions.csv: " in err and ("changed between listing and reading" in err or "is gone" in err)


@pytest.mark.parametrize("key", ["logs/../../escaped.csv", "logs/train/a\x00b", "logs//train/x", "logs/./x"])
def test_an_unsafe_key_is_refused_naming_its_url(tmp_path, key):
    url = f"s3://b/run/{key}"
    with pytest.raises(object_store.ArtefactError, match="refused") as info:
        object_store._safe_target(tmp_path, key, url)
    assert str(info.value).startswith(url)
    assert list(tmp_path.iterdir()) == []


def test_an_unsafe_key_in_the_store_is_refused(s3_env, capsys):
    client = s3_env["client"]
    upload(client, RUNS["run3_relu"], "unsafe/run")
    client.put_object(Bucket=BUCKET, Key="unsafe/run/logs/train/..", Body=b"x")
    err = _refused(capsys, f"s3://{BUCKET}/unsafe/run")
    assert "has an unsafe key" in err and f"s3://{BUCKET}/unsafe/run/logs/train/.." in err


def test_gcs_without_gcsfs_names_the_package(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "gcsfs", None)  # as if it were not installed
    err = _refused(capsys, "gs://bucket/run")
    assert "gs://bucket/run: reading gs:// needs a package that is not installed" in err and "pip install gcsfs" in err


# -- a sweep over a local folder, S3 and memory -----------------------------------------------------
def test_a_sweep_mixing_local_s3_and_memory_equals_the_local_sweep(s3_env, tmp_path):
    local = [RUNS["run3_relu"], RUNS["run2_sigmoid"], RUNS["run3_relu"]]
    mixed = [RUNS["run3_relu"], f"s3://{BUCKET}/team/run2_sigmoid", _to_memory(RUNS["run3_relu"], "sweep-run3")]
    local_code, local_report = _check(local, tmp_path, "--jobs", "1")
    code, report = _check(mixed, tmp_path, "--jobs", "1")
    assert code == local_code
    assert [_statuses(r) for r in report["runs"]] == [_statuses(r) for r in local_report["runs"]]
    assert [r["run"]["path"] for r in report["runs"]][1:] == [str(m) for m in mixed[1:]]
    assert report["runs"][1]["run"]["source"]["objects"]


def test_a_sweep_through_the_command_in_worker_processes(s3_env, tmp_path):
    out = tmp_path / "sweep.json"
    local = subprocess.run([sys.executable, "-m", "validators", "check", str(RUNS["run3_relu"]),
                            str(RUNS["run2_sigmoid"]), "--spec", str(SHIPPED_SPEC), "--quiet", "--json",
                            str(tmp_path / "local.json")], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    remote = subprocess.run([sys.executable, "-m", "validators", "check", f"s3://{BUCKET}/team/run3_relu",
                             f"s3://{BUCKET}/team/run2_sigmoid", "--spec", str(SHIPPED_SPEC), "--quiet", "--jobs",
                             "2", "--json", str(out)], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert remote.returncode == local.returncode, remote.stderr
    a, b = json.loads((tmp_path / "local.json").read_text()), json.loads(out.read_text())
    assert [_statuses(r) for r in a["runs"]] == [_statuses(r) for r in b["runs"]]
    code = "import sys, validators.cli, validators.gate, validators.sweep, validators.sources; print(sorted(sys.modules))"
    modules = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert not any(m in modules for m in ("'fsspec'", "'s3fs'", "'boto3'", "'botocore'"))


# -- which keys are fetched: against a slow, obviously correct reference ---------------------------------
def _reference(keys, needed, declared, tmp: Path) -> dict:
    """The keys the layout's own glob would reach: the files made for real, globbed, folders walked."""
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for key in keys:
        (tmp / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp / key).write_bytes(b"")
    chosen = {}
    for role in needed:
        patterns = (declared[role],) if role in declared else CONVENTIONS[role]
        for pattern in patterns:
            for hit in glob.glob(os.path.join(glob.escape(str(tmp)), pattern)):
                hits = [hit] if os.path.isfile(hit) else (
                    [os.path.join(d, f) for d, _, fs in os.walk(hit) for f in fs]
                    if role in ("history", "tensorboard") or role in declared else [])
                for h in hits:
                    chosen.setdefault(os.path.relpath(h, tmp).replace(os.sep, "/"), role)
    return chosen


SEGMENTS = ["predictions.csv", "preds.parquet", "history.csv", "history.json", "training.log", "config.json",
            "params.yaml", "returns.csv", "model.keras", "best_model.h5", "x.keras", ".hidden.keras", "a.h5",
            "logs", "tensorboard", "train", "validation", "fit", "events.out.tfevents.1", "checkpoints",
            "ckpt.bin", "strategy_returns.csv", "data", ".cache"]
keys_strategy = st.lists(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=4).map("/".join),
                         max_size=12, unique=True).map(
    lambda ks: [k for k in ks if not any(o.startswith(k + "/") for o in ks)])  # a name is a file or a folder


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=keys_strategy,
       needed=st.lists(st.sampled_from(["predictions", "history", "config", "returns", "model"]), unique=True),
       declared=st.dictionaries(st.sampled_from(["returns", "history", "model"]),
                                st.sampled_from(["strategy_returns.csv", "data/*.csv", "logs/fit/*", "*.h5",
                                                 "data"]), max_size=2))
def test_select_matches_the_layouts_glob(tmp_path, keys, needed, declared):
    declared = {k: v for k, v in declared.items() if k in needed}
    assert object_store.select(keys, needed, declared) == _reference(keys, needed, declared, tmp_path / "run")


@settings(max_examples=40, deadline=None)
@given(keys=keys_strategy,
       needed=st.lists(st.sampled_from(["predictions", "history", "config", "returns", "model"]), unique=True))
def test_the_pruned_listing_loses_no_key_select_wants(keys, needed):
    memory = fsspec.filesystem("memory")
    prefix = f"/prune-{abs(hash((tuple(keys), tuple(needed))))}"
    if memory.exists(prefix):
        memory.rm(prefix, recursive=True)
    for key in keys:
        memory.pipe(f"{prefix}/{key}", b"x")
    if not keys:
        return
    from validators.sources import SourceOptions

    store = object_store._Store(f"memory://{prefix}", "memory", SourceOptions())
    listed = [item.key for item in store.listing(needed, {})]
    assert object_store.select(listed, needed) == object_store.select(keys, needed)
    memory.rm(prefix, recursive=True)


@pytest.mark.parametrize("limit, says", [(5, "entries"), (7, "objects")])
def test_a_prefix_holding_more_than_the_listing_limit_is_refused(monkeypatch, capsys, limit, says):
    url = _to_memory(RUNS["run3_relu"], f"too-many-{limit}")
    # the run: 7 entries at the top (6 files and logs/), 8 objects in all
    monkeypatch.setattr(object_store, "MAX_LISTED", limit)
    err = _refused(capsys, url)
    assert f"runverdict: {url}: holds more than {limit} {says}" in err


def test_a_sweeps_json_names_a_remote_run_by_its_url(tmp_path):
    from validators import cli

    out = tmp_path / "sweep.json"
    code = cli.main(["check", str(ROOT / "fixtures" / "runs" / "run3_relu"), "memory://nothing-here",
                     "--spec", str(ROOT / "checks" / "run3.toml"), "--json", str(out), "--quiet"])
    assert code == 2
    paths = [run["run"]["path"] for run in json.loads(out.read_text())["runs"]]
    assert paths[1] == "memory://nothing-here" and paths[0] == str(ROOT / "fixtures" / "runs" / "run3_relu")
