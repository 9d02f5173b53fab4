"""``oddwatch spark-detect`` through the real entry point: help, exit codes, stderr."""

from __future__ import annotations

from oddwatch.cli.main import EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE, main


def test_help_lists_spark_detect_and_its_examples(capsys):
    assert main(["--help"]) == EXIT_OK
    assert "spark-detect" in capsys.readouterr().out
    assert main(["spark-detect", "--help"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "oddwatch spark-detect points/ --checkpoint ck/ --out flags/" in out


def test_bad_value_under_raise_exits_3_with_one_line(spark, tmp_path, capsys):
    source = tmp_path / "in"
    source.mkdir()
    (source / "a.csv").write_text(
        "host,ts,cpu\na,2026-12-06T00:00:00,1.0\na,2026-12-06T00:00:10,x\n"
    )
    argv = ["spark-detect", str(source), "--checkpoint", str(tmp_path / "ck")]
    argv += ["--out", str(tmp_path / "out"), "--key-col", "host", "--value-col", "cpu"]
    assert main([*argv, "--on-invalid", "raise", "--quiet"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("error: KeyedMonitor got ")
    assert "Traceback" not in err


def test_configuration_error_exits_2(spark, tmp_path, capsys):
    assert main(["spark-detect", str(tmp_path / "none"), "--checkpoint", "c", "--out", "o"]) == (
        EXIT_USAGE
    )
    assert "is not a directory" in capsys.readouterr().err
