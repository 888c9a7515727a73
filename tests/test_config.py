"""s2d.config: profiles load, and a mistake in a YAML is named precisely."""

from pathlib import Path

import pytest

from s2d.config import PROFILES, Config, ConfigError, DetectorConfig, load_config


@pytest.mark.parametrize("name", PROFILES)
def test_every_profile_loads_and_names_itself(name):
    config = load_config(name)
    assert isinstance(config, Config)
    assert config.profile == name
    assert config.data.resolution in (64, 128, 256)


def test_profiles_differ_where_they_should():
    smoke, cpu, paper = (load_config(n) for n in ("smoke", "cpu", "paper"))
    assert paper.data.resolution == 256 and paper.data.num_landmarks == 74
    assert smoke.train.steps < cpu.train.steps < paper.train.steps
    assert smoke.data.dataset == cpu.data.dataset == "synth-vox"
    # cpu extends paper: what it does not override is the paper's setting
    assert cpu.model.local_branches and cpu.model.adain and cpu.model.add_motion


def test_unknown_key_names_the_key_and_the_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("extends: smoke\ntrain:\n  stpes: 5\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert "train.stpes" in message and str(path) in message and "steps" in message


def test_unknown_top_level_key(tmp_path):
    path = tmp_path / "top.yaml"
    path.write_text("sead: 3\n")
    with pytest.raises(ConfigError, match=r"unknown key 'sead'.*did you mean 'seed'"):
        load_config(path)


@pytest.mark.parametrize(
    "yaml_text, field",
    [
        ("train:\n  steps: many\n", "train.steps"),
        ("model:\n  adain: 1\n", "model.adain"),
        ("data:\n  resolution: 64.5\n", "data.resolution"),
        ("loss:\n  perceptual_scales: 1.0\n", "loss.perceptual_scales"),
        ("loss:\n  perceptual_scales: [1.0, half]\n", "loss.perceptual_scales[1]"),
        ("model: true\n", "model"),
    ],
)
def test_wrong_type_names_the_field(tmp_path, yaml_text, field):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=f"field '{field}'".replace("[", r"\[").replace("]", r"\]")):
        load_config(path)


def test_exponent_without_dot_is_a_float():
    assert load_config("smoke", ["train.lr_generator=1e-3"]).train.lr_generator == 1e-3


def test_int_is_accepted_for_float(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("extends: smoke\nloss:\n  l1: 2\n")
    assert load_config(path).loss.l1 == 2.0


def test_extends_keeps_parent_values_and_reports_the_child_file(tmp_path):
    (tmp_path / "base.yaml").write_text("extends: cpu\ntrain:\n  steps: 7\n")
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\nmodel:\n  adian: false\n")
    with pytest.raises(ConfigError, match="child.yaml.*model.adian"):
        load_config(child)
    child.write_text("extends: base.yaml\nmodel:\n  adain: false\n")
    config = load_config(child)
    assert config.train.steps == 7 and config.model.adain is False
    assert config.data.dataset == "synth-vox"


def test_extends_loop_is_an_error(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match="loops"):
        load_config(tmp_path / "a.yaml")


def test_overrides_apply_and_are_checked():
    config = load_config("smoke", ["train.steps=3", "model.local_branches=false"])
    assert config.train.steps == 3 and config.model.local_branches is False
    with pytest.raises(ConfigError, match="override 'train.setps=3'"):
        load_config("smoke", ["train.setps=3"])
    with pytest.raises(ConfigError, match="not of the form"):
        load_config("smoke", ["train.steps"])


def test_unknown_profile_suggests_the_closest():
    with pytest.raises(ConfigError, match="did you mean 'smoke'"):
        load_config("smoek")


def test_malformed_yaml_is_a_config_error(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)
    path.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(path)


def test_yaml_tags_are_not_executed(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("seed: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_fingerprint_follows_settings():
    a, b = load_config("smoke"), load_config("smoke")
    assert a.fingerprint() == b.fingerprint()
    assert load_config("smoke", ["seed=1"]).fingerprint() != a.fingerprint()


def test_profile_files_ship_with_the_package():
    import s2d.config

    shipped = {p.stem for p in Path(s2d.config.PROFILES_DIR).glob("*.yaml")}
    assert shipped == set(PROFILES)


def test_an_auto_perceptual_backbone_is_imagenet_only_where_the_weights_are_cached(tmp_path, monkeypatch):
    from s2d import weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty weights cache
    assert load_config("cpu", ["loss.perceptual_backbone=auto"]).loss.perceptual_backbone == "random"
    weights.path_of("vgg19").parent.mkdir(parents=True)
    weights.path_of("vgg19").write_bytes(b"cached")
    assert load_config("cpu", ["loss.perceptual_backbone=auto"]).loss.perceptual_backbone == "imagenet"
    assert load_config("smoke").loss.perceptual_backbone == "random"  # the tests' numbers are the same everywhere


def test_the_dataclass_defaults_are_the_paper_profile():
    assert load_config("paper").to_dict() == {**Config().to_dict(), "profile": "paper"}


def test_each_profile_sizes_its_detector_in_its_yaml():
    sizes = {name: load_config(name).detector for name in ("smoke", "cpu", "paper")}
    assert sizes["paper"] == DetectorConfig()  # FAN4 at 256 px
    assert (sizes["cpu"].input_size, sizes["cpu"].stacks, sizes["cpu"].steps) == (128, 2, 300)
    assert sizes["smoke"].steps < sizes["cpu"].steps and sizes["smoke"].real_share == 0.0


@pytest.mark.parametrize("override, message", [
    ("train.steps=-5", "field 'train.steps' must be >= 1, got -5"),
    ("train.batch_size=0", "field 'train.batch_size' must be >= 1, got 0"),
    ("train.lr_generator=0", "field 'train.lr_generator' must be > 0, got 0"),
    ("model.motion_scale=1.5", "field 'model.motion_scale' must be in (0, 1], got 1.5"),
    ("loss.perceptual_scales=[1.0, 0]", "field 'loss.perceptual_scales' must be in (0, 1], got 0"),
    ("detector.real_share=2", "field 'detector.real_share' must be in [0, 1], got 2"),
    ("detector.variant=FAN4+SBR", "field 'detector.variant' must be one of FAN4, FAN4+DSNT, FAN4+DSNT+SBR"),
    ("detector.input_size=200", "field 'detector.input_size' must be a multiple of 64"),
    ("loss.perceptual_backbone=imagenett", "(did you mean 'imagenet'?)"),
])
def test_values_out_of_range_are_one_line_errors_naming_the_override(override, message):
    with pytest.raises(ConfigError) as err:
        load_config("cpu", [override])
    assert message in str(err.value) and f"override '{override}'" in str(err.value)
    assert "\n" not in str(err.value)


def test_values_at_the_edge_of_their_range_are_accepted():
    config = load_config("cpu", ["train.snapshots=0", "detector.real_share=1", "loss.gan=0", "model.motion_scale=1"])
    assert (config.train.snapshots, config.detector.real_share, config.model.motion_scale) == (0, 1.0, 1.0)
