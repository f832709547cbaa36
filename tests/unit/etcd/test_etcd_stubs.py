"""kamaji's own etcd v3 stubs: committed modules match the .proto files, packages and field numbers are etcd's."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

from kamaji.etcd import prefix_range_end
from kamaji.etcd._pb import auth_pb2, kv_pb2, rpc_pb2, rpc_pb2_grpc

PACKAGE = Path(__file__).resolve().parents[3] / "kamaji" / "etcd"


def test_committed_modules_are_what_the_protos_compile_to(tmp_path: Path) -> None:
    copy = tmp_path / "kamaji" / "etcd"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for generated in (copy / "_pb").glob("*_pb2*"):
        generated.unlink()
    subprocess.run([sys.executable, str(copy / "gen_proto.py")], check=True, capture_output=True)
    names = sorted(p.name for p in (PACKAGE / "_pb").iterdir() if p.name != "__pycache__")
    assert names == sorted(p.name for p in (copy / "_pb").iterdir())
    _, mismatch, errors = filecmp.cmpfiles(PACKAGE / "_pb", copy / "_pb", names, shallow=False)
    assert (mismatch, errors) == ([], [])


def test_wire_names_and_field_numbers_are_etcds() -> None:
    assert rpc_pb2.DESCRIPTOR.package == "etcdserverpb"
    assert kv_pb2.DESCRIPTOR.package == "mvccpb"
    assert auth_pb2.DESCRIPTOR.package == "authpb"
    services = {s.full_name: [m.name for m in s.methods] for s in rpc_pb2.DESCRIPTOR.services_by_name.values()}
    assert services["etcdserverpb.KV"] == ["Range", "Put", "DeleteRange", "Txn", "Compact"]
    assert len(services["etcdserverpb.Auth"]) == 17
    assert set(services) == {f"etcdserverpb.{s}" for s in ("KV", "Watch", "Lease", "Cluster", "Maintenance", "Auth")}
    fields = {f.name: f.number for f in rpc_pb2.RangeRequest.DESCRIPTOR.fields}
    assert fields["count_only"] == 9
    assert fields["max_create_revision"] == 13
    assert {f.name: f.number for f in rpc_pb2.WatchRequest.DESCRIPTOR.fields}["progress_request"] == 3
    assert {f.name: f.number for f in rpc_pb2.WatchResponse.DESCRIPTOR.fields}["events"] == 11
    assert {f.name: f.number for f in rpc_pb2.Compare.DESCRIPTOR.fields}["range_end"] == 64
    assert {f.name: f.number for f in rpc_pb2.StatusResponse.DESCRIPTOR.fields}["storageVersion"] == 11
    assert [f.number for f in kv_pb2.KeyValue.DESCRIPTOR.fields] == [1, 2, 3, 4, 5, 6]
    assert {f.name: f.number for f in auth_pb2.UserAddOptions.DESCRIPTOR.fields} == {"no_password": 1}
    assert hasattr(rpc_pb2_grpc, "add_KVServicer_to_server")
    # a known byte string: PutRequest{key="a", value="b", prev_kv=true}
    assert rpc_pb2.PutRequest(key=b"a", value=b"b", prev_kv=True).SerializeToString() == b"\n\x01a\x12\x01b \x01"


def test_prefix_range_end() -> None:
    assert prefix_range_end(b"/tenant/") == b"/tenant0"
    assert prefix_range_end(b"a\xff") == b"b"
    assert prefix_range_end(b"\xff\xff") == b"\0"
    assert prefix_range_end(b"") == b"\0"
