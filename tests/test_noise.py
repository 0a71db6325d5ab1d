"""cats.noise: the seeded initial noise every runtime reproduces (Philox4x32-10 + Box-Muller from + - * / sqrt)."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cats.noise import MAX_SEED, box_muller, check_seed, gaussian_noise, normal_pair, philox4x32

REPO = Path(__file__).resolve().parents[1]

# Random123's published known answers for Philox4x32-10 (its kat_vectors): counter, key, words.
KAT = [((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
       ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
       ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]


@pytest.mark.parametrize("counter,key,words", KAT)
def test_philox_matches_the_published_known_answers(counter, key, words):
    assert philox4x32(np.array([counter]), key)[0].tolist() == list(words)


def test_each_value_depends_on_seed_and_index_only():
    one = gaussian_noise((1, 3, 8, 8), 42)
    batch = gaussian_noise((3, 3, 8, 8), 42)
    assert one.dtype == np.float32 and batch.shape == (3, 3, 8, 8)
    assert np.array_equal(batch[0], one[0])  # a batch's first image is the one-image call's
    assert np.array_equal(gaussian_noise((7,), 42), one.reshape(-1)[:7])  # a partial block too
    assert np.array_equal(gaussian_noise((2, 5), 9), gaussian_noise((10,), 9).reshape(2, 5))  # C order
    assert not np.array_equal(gaussian_noise((64,), 42), gaussian_noise((64,), 43))
    assert len(np.unique(batch)) == batch.size  # no repeated block


def test_values_are_standard_normal():
    z = gaussian_noise((400_000,), 1).astype(np.float64)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert abs(np.mean(z ** 3)) < 0.02 and abs(np.mean(z ** 4) - 3) < 0.05  # skew 0, kurtosis 3
    for k, p in ((1, 0.6827), (2, 0.9545), (3, 0.9973)):
        assert abs(np.mean(np.abs(z) < k) - p) < 0.003
    pairs = z[: len(z) // 2 * 2].reshape(-1, 2)
    assert abs(np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1]) < 0.01  # the two outputs of a pair are independent


def test_own_log_and_trig_agree_with_libm_to_a_few_ulps():
    # The arithmetic is ours (+ - * / sqrt only, so JavaScript gets the same bits); it must still be Box-Muller.
    rng = np.random.default_rng(3)
    a = np.concatenate([rng.integers(0, 2**32, 100_000, dtype=np.uint64), [0, 1, 2**31, 2**32 - 2, 2**32 - 1]])
    b = np.concatenate([rng.integers(0, 2**32, 100_000, dtype=np.uint64), [0, 2**30, 2**31, 3 * 2**30, 2**29]])
    a, b = a.astype(np.uint32), b.astype(np.uint32)
    z0, z1 = normal_pair(a, b)
    radius = np.sqrt(-2.0 * np.log((a.astype(np.float64) + 1.0) / 2.0**32))
    angle = 2.0 * np.pi * b.astype(np.float64) / 2.0**32
    np.testing.assert_allclose(z0, radius * np.cos(angle), rtol=0, atol=1e-14)
    np.testing.assert_allclose(z1, radius * np.sin(angle), rtol=0, atol=1e-14)
    f0, f1 = box_muller(a, b)
    assert f0.dtype == np.float32
    assert np.array_equal(f0, z0.astype(np.float32)) and np.array_equal(f1, z1.astype(np.float32))
    assert z0[-1] == 0.0 and z1[-1] == 0.0  # a = 2**32 - 1: u = 1, radius 0
    assert z0[-5] == pytest.approx(np.sqrt(2 * 32 * np.log(2)), abs=1e-12) and z1[-5] == 0.0  # a = 0, angle 0
    assert np.abs(z0).max() <= z0[-5]  # the largest radius is at u = 2**-32


@pytest.mark.parametrize("bad", [-1, MAX_SEED + 1, 1.5, True, "7", None])
def test_bad_seeds_are_refused(bad):
    with pytest.raises(ValueError, match=r"seed must be an integer in 0\.\.4294967295"):
        gaussian_noise((4,), bad)


def test_seed_accepts_numpy_integers_and_the_full_range():
    assert check_seed(np.uint32(MAX_SEED)) == MAX_SEED
    assert np.isfinite(gaussian_noise((5,), MAX_SEED)).all() and np.isfinite(gaussian_noise((5,), 0)).all()


def test_import_needs_no_torch():
    script = textwrap.dedent("""
        import sys
        sys.modules["torch"] = None
        from cats.noise import gaussian_noise
        import cats.sampling, cats.convention
        print(float(gaussian_noise((3,), 5)[0]))
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert float(proc.stdout.strip()) == float(gaussian_noise((3,), 5)[0])
