"""deploy/kafka/kafka.sh formats storage whatever random cluster id it is given."""

from __future__ import annotations

from pathlib import Path

from tests.integration.conftest import kafka_sh


class TestFormat:
    def test_cluster_id_starting_with_dash_formats(self, tmp_path: Path) -> None:
        """A cluster id that starts with "-" (1 in 64 random ids) is taken as the id,
        not as an option: storage is formatted with it and the broker can start."""
        lib = kafka_sh("jars").stdout.strip()
        home = tmp_path / "kafka"
        home.mkdir()
        (home / "lib").symlink_to(lib)
        cluster_id = "-" + "Ab9_" * 5 + "x"  # 22 base64url characters, like a real one

        result = kafka_sh("format", env={"KAFKA_HOME": str(home), "KAFKA_CLUSTER_ID": cluster_id})

        assert result.returncode == 0, result.stderr
        meta = (home / "data" / "meta.properties").read_text()
        assert f"cluster.id={cluster_id}\n" in meta

    def test_generated_cluster_ids_never_look_like_options(self) -> None:
        """None of 5,000 random cluster ids kafka.sh makes starts with "-" (about 78
        would, unguarded), and each is a 22-character base64url UUID."""
        result = kafka_sh("cluster-id", "5000")

        assert result.returncode == 0, result.stderr
        ids = result.stdout.split()
        assert len(ids) == 5000
        assert not [i for i in ids if i.startswith("-")]
        assert all(len(i) == 22 for i in ids)


class TestJars:
    def test_jars_prints_only_the_folder_even_when_it_resolves_them(self, tmp_path: Path) -> None:
        """On a fresh clone `kafka.sh jars` resolves the jars with Maven first; its stdout
        must still be just the folder (Maven's colour codes once made the cluster and
        secured-node fixtures look for jars in '\\x1b[0m…/lib' and fail)."""
        home = tmp_path / "kafka"

        result = kafka_sh("jars", env={"KAFKA_HOME": str(home)})

        assert result.returncode == 0, result.stderr
        assert result.stdout == f"{home / 'lib'}\n"
        assert list((home / "lib").glob("kafka_2.13-*.jar"))
