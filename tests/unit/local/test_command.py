"""``processor run``'s choices that a newcomer sees: where the broker listens, where state goes."""

from __future__ import annotations

from pathlib import Path

from processor.local.command import alertmanager_command, kafka_env, local_settings
from processor.settings import Settings


class TestKafkaEnv:
    def test_started_broker_listens_where_the_bootstrap_servers_point(self) -> None:
        """`run --start-kafka` with bootstrap 127.0.0.1:49092 starts the broker on 49092, with
        its controller on run_kafka_controller_port."""
        settings = Settings(
            kafka_bootstrap_servers="127.0.0.1:49092", run_kafka_controller_port=49093
        )
        env = kafka_env(settings)
        assert env["KAFKA_PORT"] == "49092"
        assert env["KAFKA_CONTROLLER_PORT"] == "49093"

    def test_defaults_match_the_broker_scripts_defaults(self) -> None:
        """By default the broker gets 9092 and controller 19093, leaving 9093 to Alertmanager."""
        env = kafka_env(Settings())
        assert (env["KAFKA_PORT"], env["KAFKA_CONTROLLER_PORT"]) == ("9092", "19093")


class TestRunDir:
    def test_key_pair_goes_under_the_run_dir(self, tmp_path: Path) -> None:
        """The development key pair is made in <run_dir>/keys, not in the current folder."""
        settings = local_settings(Settings(run_dir=tmp_path / "state"))
        assert settings.simulate_key_dir == tmp_path / "state" / "keys"

    def test_a_chosen_key_dir_is_kept(self, tmp_path: Path) -> None:
        """A key folder the user chose wins over the run dir's."""
        settings = local_settings(Settings(run_dir=tmp_path, simulate_key_dir=tmp_path / "k"))
        assert settings.simulate_key_dir == tmp_path / "k"

    def test_alertmanager_listens_on_its_setting_and_stores_under_run_dir(
        self, tmp_path: Path
    ) -> None:
        """Alertmanager's port is run_alertmanager_port and its storage <run_dir>/alertmanager."""
        command = alertmanager_command(
            "alertmanager", Settings(run_dir=tmp_path, run_alertmanager_port=29093)
        )
        assert "--web.listen-address=127.0.0.1:29093" in command
        assert f"--storage.path={tmp_path / 'alertmanager'}" in command
