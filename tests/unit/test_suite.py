import re

import pytest

from mpcbench.launch.suite import SuiteError, cells, expand, load_suite, option_grid
from mpcbench.parties.base import Unsupported


def _suite(tmp_path, text):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return load_suite(path)


def test_expansion_and_overrides(tmp_path):
    suite = _suite(tmp_path, """
name: t
frameworks: [plaintext, crypten]
models: [mlp, cnn]
parties: [2, 3]
images: 32
overrides:
  cnn: {images: 8}
  crypten/cnn: {batch_sizes: [4], options: {provider: TFP}}
""")
    cases = [p.case for p in expand(suite)]
    ids = [c.case_id for c in cases]
    # plaintext runs once per model (one process), crypten once per party count
    assert ids == [
        "plaintext/mlp(dataset=mnist,n=1,b=32)", "plaintext/cnn(dataset=mnist,n=1,b=8)",
        "crypten/mlp(dataset=mnist,n=2,b=32)", "crypten/mlp(dataset=mnist,n=3,b=32)",
        "crypten/cnn(dataset=mnist,n=2,b=4)", "crypten/cnn(dataset=mnist,n=3,b=4)",
    ]
    assert [c.images for c in cases] == [32, 8, 32, 32, 8, 8]  # mlp batch 64 capped at 32
    assert cases[-1].options == {"provider": "TFP"} and cases[0].options == {}


def test_variants_axis_for_backends_with_the_option(tmp_path):
    suite = _suite(tmp_path, """
frameworks: [plaintext, crypten, mpyc]
models: [mlp]
parties: [3]
variants: [stock, tuned]
""")
    cells = [(c.framework, c.options) for c in (p.case for p in expand(suite))]
    assert cells == [("plaintext", {}),
                     ("crypten", {"variant": "stock"}), ("crypten", {"variant": "tuned"}),
                     ("mpyc", {"variant": "stock"}), ("mpyc", {"variant": "tuned"})]
    with pytest.raises(Unsupported, match="variant must be one of"):
        expand(_suite(tmp_path, "frameworks: [crypten]\nvariants: [fast]\n"))


def test_providers_axis_for_backends_with_the_option(tmp_path):
    suite = _suite(tmp_path, """
frameworks: [crypten, mpyc]
models: [mlp]
parties: [3]
providers: [TFP, TTP]
""")
    cells = [(c.framework, c.options) for c in (p.case for p in expand(suite))]
    assert cells == [("crypten", {"provider": "TFP"}), ("crypten", {"provider": "TTP"}),
                     ("mpyc", {})]
    with pytest.raises(Unsupported, match="unknown crypten provider"):
        expand(_suite(tmp_path, "frameworks: [crypten]\nproviders: [HE]\n"))


def test_unknown_key_rejected(tmp_path):
    with pytest.raises(SuiteError, match=r"unknown key.*partys"):
        _suite(tmp_path, "frameworks: [crypten]\npartys: [2]\n")
    with pytest.raises(SuiteError, match=r"override cnn: unknown key.*imagez"):
        _suite(tmp_path, "overrides:\n  cnn: {imagez: 3}\n")


def test_bad_party_count_rejected_before_running(tmp_path):
    with pytest.raises(Unsupported, match="crypten runs with 2 to"):
        expand(_suite(tmp_path, "frameworks: [crypten]\nparties: [1]\n"))


def test_missing_suite(tmp_path):
    with pytest.raises(SuiteError, match="does not exist"):
        load_suite(tmp_path / "nope.yaml")


def test_shipped_suites_expand():
    from pathlib import Path

    for path in sorted(Path(__file__).parents[2].glob("benchmarks/*.yaml")):
        assert expand(load_suite(path)), path


def test_framework_override_names_its_own_models(tmp_path):
    suite = _suite(tmp_path, """
frameworks: [plaintext, feedback]
models: [cnn]
overrides:
  feedback: {models: [cnnf]}
""")
    assert [(p.case.framework, p.case.model) for p in expand(suite)] == [
        ("plaintext", "cnn"), ("feedback", "cnnf")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('images: "64"', r"images: input should be a valid integer, got '64'"),
        ("repeats: 1.5", r"repeats: input should be a valid integer, got 1.5"),
        ("images: true", r"images: input should be a valid integer, got True"),
        ("batch_sizes: [8, 0]", r"batch_sizes\.1: input should be greater than 0, got 0"),
        ("warmup: -1", r"warmup: input should be greater than or equal to 0, got -1"),
        ("timeout_s: 0", r"timeout_s: input should be greater than 0"),
        ("parties: [2, '3']", r"parties\.1: input should be a valid integer, got '3'"),
        ("options: [a]", r"options: input should be a valid dictionary"),
        ("overrides: {cnn: 3}", r"overrides\.cnn: input should be a valid dictionary"),
        ("overrides: {cnn: {images: many}}", r"override cnn: images: input should be a valid "
                                              r"integer, got 'many'"),
        ("- just a list", r"must be a mapping"),
    ],
)
def test_wrongly_typed_values_are_named_with_file_and_field(tmp_path, text, message):
    where = re.escape(f"suite file {tmp_path / 's.yaml'}")
    with pytest.raises(SuiteError, match=rf"^{where}(: | ).*{message}"):
        _suite(tmp_path, text + "\n")


def test_a_single_value_stands_for_a_list(tmp_path):
    suite = _suite(tmp_path, "frameworks: plaintext\nmodels: mlp\nimages: 8\ntimeout_s: 30\n")
    assert [p.case.case_id for p in expand(suite)] == ["plaintext/mlp(dataset=mnist,n=1,b=8)"]
    assert expand(suite)[0].timeout_s == 30.0


def test_list_valued_options_are_swept(tmp_path):
    suite = _suite(tmp_path, """
frameworks: [plaintext, split]
models: [cnn]
parties: [2]
overrides:
  split: {models: [split], options: {noise_multiplier: [0, 0.7], measure_attack: true}}
""")
    cells = [(c.framework, c.options) for c in (p.case for p in expand(suite))]
    assert cells == [("plaintext", {}),
                     ("split", {"noise_multiplier": 0, "measure_attack": True}),
                     ("split", {"noise_multiplier": 0.7, "measure_attack": True})]
    assert option_grid({"a": [1, 2], "b": ["x", "y"], "c": 3})[1] == {"a": 1, "b": "y", "c": 3}


def test_cases_of_one_fingerprint_are_one_cell(tmp_path):
    suite = _suite(tmp_path, """
frameworks: [plaintext]
models: [mlp, mlp]
datasets: [mnist, fashion, mnist]
batch_sizes: [16, 8]
images: 8
""")
    planned = expand(suite)
    assert len(planned) == 2 * 3 * 2  # models x datasets x batch sizes, as listed
    found = cells(planned)
    # both batch sizes are capped to the 8 images; mlp and mnist are listed twice
    assert [c.planned.case.case_id for c in found] == [
        "plaintext/mlp(dataset=mnist,n=1,b=8)", "plaintext/mlp(dataset=fashion,n=1,b=8)"]
    assert [c.planned for c in found] == [planned[0], planned[2]]
    assert len({c.key for c in found}) == 2 and all(c.problem is None for c in found)
