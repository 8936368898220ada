"""Which device a job runs on: the config's device setting, a free GPU on a multi-GPU machine,
CPU threads."""

from __future__ import annotations


def resolve_device(setting: str) -> str:
    """A config device setting ("auto", "cpu", "cuda") -> the torch device to use.

    With several GPUs visible (one machine, ``--resources gpu=N``; a SLURM job sees only its
    own) the job takes a GPU no other segrel job holds, see :func:`claim_gpu`.
    """
    import torch

    if setting == "auto":
        setting = "cuda" if torch.cuda.is_available() else "cpu"
    if setting == "cuda" and not torch.cuda.is_available():  # else a driver traceback at the first tensor
        raise RuntimeError("the config asks for device: cuda, but torch sees no GPU on this machine (no driver, "
                           "or CUDA_VISIBLE_DEVICES hides them); run where a GPU is (SLURM: profiles/slurm gives GPU "
                           "jobs one), or set the device to auto or cpu")
    if setting == "cuda" and (index := use_free_gpu()) is not None:
        return f"cuda:{index}"
    return setting


def use_free_gpu() -> int | None:
    """With several GPUs visible, claim a free one (:func:`claim_gpu`) and make it the current
    CUDA device, so that code which says just "cuda" (accelerate, mmengine's runner) uses it.
    Returns its index, or None with fewer than two GPUs."""
    import torch

    if not torch.cuda.is_available() or torch.cuda.device_count() < 2:
        return None
    index = claim_gpu(torch.cuda.device_count())
    torch.cuda.set_device(index)
    return index


_claimed_gpu = None  # (lock file handle, index), held for the life of the job's process


def claim_gpu(count: int, lock_dir=None) -> int:
    """Index of a GPU no other segrel job on this machine uses: an exclusive ``flock`` on
    ``segrel-gpu-<i>.lock``, released by the kernel when the process ends (even killed).
    Snakemake's ``gpu`` resource bounds how many GPU jobs run at once but says nothing about
    which GPU each gets; without this every job would start on GPU 0.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> claim_gpu(2, folder) == claim_gpu(2, folder)  # the same process keeps its GPU
    True
    """
    import fcntl
    import os
    import tempfile
    from pathlib import Path

    global _claimed_gpu
    if _claimed_gpu is not None:
        return _claimed_gpu[1]
    # per user: another user's lock file in a shared /tmp could not be opened
    folder = Path(lock_dir or os.environ.get("SEGREL_GPU_LOCK_DIR")
                  or Path(tempfile.gettempdir()) / f"segrel-gpu-locks-{os.getuid()}")
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        handle = open(folder / f"segrel-gpu-{index}.lock", "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _claimed_gpu = (handle, index)
        return index
    raise RuntimeError(f"all {count} GPUs are held by other segrel jobs: give snakemake --resources gpu={count} "
                       "at most (profiles/local-gpu)")


def configure_torch(threads: int) -> None:
    """CPU threads for one job, and subnormal floats flushed to zero: the tiny generators'
    weights and activations decay into subnormals, which made CPU math ~100x slower (a UNet
    call 2.9 s instead of 0.02 s) for the same images."""
    import torch

    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
