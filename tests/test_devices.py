"""segrel.core.devices.claim_gpu: concurrent jobs on one machine take different GPUs (file locks, no GPU needed)."""

import subprocess
import sys

import pytest

HOLD = """
import sys, time
sys.path.insert(0, {library!r})
from segrel.core.devices import claim_gpu
print(claim_gpu(2, {folder!r}), flush=True)
time.sleep(30)
"""


def test_concurrent_jobs_take_different_gpus_and_a_third_is_refused(tmp_path):
    from pathlib import Path

    library = str(Path(__file__).resolve().parents[1] / "workflow" / "scripts")
    holder = subprocess.Popen([sys.executable, "-c", HOLD.format(library=library, folder=str(tmp_path))],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "0"  # the first job takes GPU 0 and keeps it
        second = subprocess.run([sys.executable, "-c", HOLD.replace("time.sleep(30)", "").format(
            library=library, folder=str(tmp_path))], capture_output=True, text=True, timeout=60)
        assert second.stdout.strip() == "1"
        import segrel.core.devices

        segrel.core.devices._claimed_gpu = None
        with pytest.raises(RuntimeError, match=r"all 1 GPUs are held .*--resources gpu=1"):
            segrel.core.devices.claim_gpu(1, tmp_path)  # GPU 0 is still held by the first job
    finally:
        holder.kill()
        holder.wait()
    assert segrel.core.devices.claim_gpu(1, tmp_path) == 0  # released when its process ends
    segrel.core.devices._claimed_gpu[0].close()
    segrel.core.devices._claimed_gpu = None


def test_cuda_without_a_gpu_is_one_clear_error(monkeypatch):
    import torch

    from segrel.core.devices import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu" and resolve_device("cpu") == "cpu"
    with pytest.raises(RuntimeError, match=r"^the config asks for device: cuda, but torch sees no GPU on this "
                                           r"machine .*; run where a GPU is .* or set the device to auto or cpu$"):
        resolve_device("cuda")
