"""The container image, built for real from the Dockerfile (scripts/image.sh: podman with
chroot isolation on a debootstrapped Debian base) and smoke-tested: Skua from the image's own
filesystem, as the image's user, takes an export and returns the trace."""

import subprocess

from conftest import REPO


def test_image_builds_and_serves():
    out = subprocess.run([str(REPO / "scripts" / "image.sh"), "skua:test"], capture_output=True,
                         text=True, timeout=3600)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-8000:]
    assert "image: smoke test passed" in out.stdout
