"""The report's targets come from the rules file (DOMAIN.md "Precisions", Water: 自来水普及率 ≥ 85%, 集中供水率 ≥ 90%,
seed 000); they judge no record, so a county that sets its own targets refolds nothing."""
from sync.rules import BUNDLED_RULES, load_rules


def test_the_bundled_targets_are_the_national_ones():
    assert load_rules().targets == {"tap_water_rate": 85.0, "central_water_rate": 90.0}


def test_a_county_sets_its_own_targets_without_changing_the_digest(tmp_path):
    text = BUNDLED_RULES.read_text(encoding="utf-8").replace("tap_water_rate = 85", "tap_water_rate = 95")
    own = tmp_path / "rules.toml"
    own.write_text(text, encoding="utf-8")
    rules = load_rules(own)
    assert rules.targets == {"tap_water_rate": 95.0, "central_water_rate": 90.0}
    assert rules.digest == load_rules().digest


def test_a_rules_file_without_targets_uses_the_national_ones(tmp_path):
    text = BUNDLED_RULES.read_text(encoding="utf-8")
    own = tmp_path / "rules.toml"
    own.write_text(text[:text.index("[targets]")], encoding="utf-8")
    assert load_rules(own).targets == {"tap_water_rate": 85.0, "central_water_rate": 90.0}
