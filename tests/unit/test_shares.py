"""The share-set files without parties: what one party saves, what the manifest binds,
and what a loading party refuses on its own (as a party on another host must)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mpcbench.case import Case
from mpcbench.parties import shares

ENCODING = {"scheme": "additive", "ring": "Z/2^64", "precision_bits": 16}


def _arrays(rank: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(rank)
    return {"1.weight": rng.integers(-2**62, 2**62, (784, 28)), "1.bias": np.arange(28) + rank}


@pytest.fixture
def share_set(tmp_path):
    """A 2-party mlp share set of made-up shares, and what a run of it expects."""
    case = Case("crypten", "mlp", parties=2)
    want = shares.expected(case, ENCODING)
    records = [shares.save(tmp_path, r, "set-1", _arrays(r)) for r in range(2)]
    shares.write_manifest(tmp_path, {"set_id": "set-1", **want}, records)
    return tmp_path, want


def test_a_party_loads_back_exactly_its_own_arrays(share_set):
    directory, want = share_set
    for rank in range(2):
        got = shares.load(directory, rank, want)
        assert sorted(got) == ["1.bias", "1.weight"]
        for name, a in _arrays(rank).items():
            np.testing.assert_array_equal(got[name], a)
    manifest = shares.check(directory, want)
    assert manifest["files"]["1"]["sha256"] == shares.sha256(directory / "party-1.npz")
    assert manifest["layers"][1] == {"index": 1, "type": "Linear", "weight": [28, 784],
                                     "bias": [28]}


def test_a_party_refuses_its_file_in_another_ranks_place(share_set):
    """Rank 1's file as rank 0's, the manifest made to agree: the file's own rank field
    (covered by its checksum) still tells."""
    directory, want = share_set
    manifest = json.loads((directory / shares.MANIFEST).read_text())
    manifest["files"]["0"] = manifest["files"]["1"] | {"file": "party-1.npz"}
    (directory / shares.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(shares.SharesError, match="shares of party 1, not of party 0"):
        shares.load(directory, 0, want)


def test_the_manifest_hash_names_the_set(share_set, tmp_path_factory):
    directory, want = share_set
    other = tmp_path_factory.mktemp("other")
    records = [shares.save(other, r, "set-2", _arrays(r)) for r in range(2)]
    shares.write_manifest(other, {"set_id": "set-2", **want}, records)
    assert shares.manifest_sha256(directory) != shares.manifest_sha256(other)


def test_take_checks_the_shape_the_model_needs():
    arrays = {"1.bias": np.zeros(28)}
    assert shares.take(arrays, "1.bias", (28,)) is arrays["1.bias"]
    with pytest.raises(shares.SharesError, match="shape"):
        shares.take(arrays, "1.bias", (10,))
    with pytest.raises(shares.SharesError, match=r"no array 1\.weight"):
        shares.take(arrays, "1.weight", (28, 784))


def test_a_manifest_needs_one_file_per_party(tmp_path):
    want = shares.expected(Case("crypten", "mlp", parties=3), ENCODING)
    records = [shares.save(tmp_path, r, "s", _arrays(r)) for r in range(2)]
    with pytest.raises(ValueError, match="ranks"):
        shares.write_manifest(tmp_path, {"set_id": "s", **want}, records)


def test_no_set_is_a_one_line_error(tmp_path):
    with pytest.raises(shares.SharesError, match=r"manifest\.json is missing"):
        shares.read_manifest(tmp_path)


def test_a_failed_run_leaves_no_files_of_its_set(tmp_path):
    shares.save(tmp_path, 0, "failed-run", _arrays(0))
    kept = shares.save(tmp_path / "other", 1, "earlier", _arrays(1))
    (tmp_path / "other" / kept["file"]).rename(tmp_path / kept["file"])
    with pytest.raises(KeyboardInterrupt), shares.discarded_on_failure(tmp_path, "failed-run"):
        shares.save(tmp_path, 2, "failed-run", _arrays(2))
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == [kept["file"]]
    with shares.discarded_on_failure(tmp_path, "earlier"):
        pass
    assert (tmp_path / kept["file"]).exists()


def test_mpyc_field_elements_round_trip_through_words_and_limbs():
    from mpcbench.parties.mpyc import modmat
    from mpcbench.parties.mpyc.backend import _from_words, _to_words

    rng = np.random.default_rng(0)
    values = np.array([int(v) << 40 | int(w) for v, w in
                       zip(rng.integers(0, 2**62, 60), rng.integers(0, 2**40, 60), strict=True)],
                      dtype=object).reshape(6, 10)  # up to 102 bits: two words
    words = _to_words(values, 2)
    assert words.shape == (6, 10, 2) and words.dtype == np.uint64
    assert (_from_words(words) == values).all()
    bits = modmat.limb_bits(6)
    limbs = modmat.to_limbs(values, bits, modmat.limb_count(102, bits))
    assert (modmat.from_limbs(limbs, bits) == values).all()
