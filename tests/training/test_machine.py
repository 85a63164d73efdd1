"""training/machine.py: the description of the machine written to run logs and eval JSON."""
import json
import os

from training.machine import cpu_model, describe_machine, usable_cores

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu vme

processor\t: 1
model name\t: AMD EPYC 7B13
"""


def test_cpu_model_is_read_from_cpuinfo(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    assert cpu_model(path) == "AMD EPYC 7B13"


def test_cpu_model_falls_back_without_cpuinfo(tmp_path):
    name = cpu_model(tmp_path / "missing")
    assert isinstance(name, str) and name


def test_usable_cores_follow_the_affinity():
    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(before)})        # as `taskset -c N` would
        assert usable_cores() == 1
    finally:
        os.sched_setaffinity(0, before)
    assert usable_cores() == len(before)


def test_description_is_plain_json():
    machine = describe_machine()
    assert json.loads(json.dumps(machine)) == machine
    assert set(machine) == {"cpu", "cores", "backend", "devices", "jax", "jaxlib", "numpy", "xla_flags"}
