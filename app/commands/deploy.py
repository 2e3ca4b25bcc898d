from __future__ import annotations

import click

from mlcycle.app.output import Context, console, emit_json, json_option, note
from mlcycle.app.words import plural


@click.command()
@click.argument("project")
@click.argument("version", default="champion")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder for the bundle (new or empty).")
@click.option("--force", is_flag=True, help="Replace a folder that is not empty.")
@click.option("--kserve", is_flag=True,
              help="Also write inferenceservice.yaml: a KServe InferenceService running the "
                   "bundle's image (Open Inference Protocol v2); exporting the challenger "
                   "under a canary config sets canaryTrafficPercent to the canary's share.")
@json_option
@click.pass_obj
def export(ctx: Context, project: str, version: str, out: str, force: bool, kserve: bool,
           as_json: bool) -> None:
    """Export a model version (number or alias) as an ONNX bundle, parity-checked, with a
    standalone server (server.py: Open Inference Protocol v2 with binary tensors, numpy and
    onnxruntime only) and a Dockerfile."""
    from mlcycle import deploy

    result = deploy.export(ctx.workspace(), project, version, out, force=force, kserve=kserve)
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(f"exported {project} v{result.version} to {result.out} "
               f"({result.size_bytes / 1024:.1f} KiB ONNX, converted in "
               f"{result.export_seconds:.2f}s)")
    click.echo(deploy.parity_line(result.parity))
    if result.kserve:
        percent = result.kserve.canary_traffic_percent
        click.echo(f"wrote {result.kserve.file}" + (
            f" (a canary: {percent}% of requests)" if percent is not None else ""))


@click.group()
def bundle() -> None:
    """Exported bundles: verify one (hashes, smoke rows, its standalone server)."""


@bundle.command("verify")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--no-server", is_flag=True,
              help="Do not start the bundle's server.py (which needs numpy and onnxruntime "
                   "from the package index once, for its environment).")
@json_option
def verify(folder: str, no_server: bool, as_json: bool) -> None:
    """Re-check a bundle's hashes, score its smoke rows in a fresh process, and start its
    standalone server in an environment with only numpy and onnxruntime, whose answers
    must match mlcycle's."""
    from mlcycle import deploy

    result = deploy.verify(folder, server=not no_server, note=note)
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(f"bundle {result.folder} ({result.project} v{result.version}): hashes "
               f"ok, smoke test ok on {plural(result.smoke_test.rows, 'row')}")
    if result.server:
        served = result.server
        click.echo(f"server.py ok: answers {plural(served.rows, 'row')} as mlcycle does "
                   f"(within {served.max_diff:.2g}), in an environment with only numpy "
                   f"{served.numpy} and onnxruntime {served.onnxruntime}")
    if result.extra_files:
        note(f"note: files outside the bundle: {', '.join(result.extra_files)}")


@click.command()
@click.argument("project")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--model", "ref", default="champion", show_default=True,
              help="Version number or alias.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write predictions (.csv/.parquet).")
@click.option("--no-shadow", is_flag=True, help="Do not score the challenger alongside.")
@click.option("--batch-rows", default=100_000, show_default=True, type=click.IntRange(1))
@json_option
@click.pass_obj
def predict(ctx: Context, project: str, file: str, ref: str, out: str | None, no_shadow: bool,
            batch_rows: int, as_json: bool) -> None:
    """Score a file with onnxruntime (the champion by default); the run is logged."""
    from mlcycle.deploy import scoring

    result = scoring.predict_file(ctx.workspace(), project, file, ref, out,
                                  shadow=not no_shadow, batch_rows=batch_rows, note=note)
    if as_json:
        emit_json(result.to_dict())
        return
    shadow = f", challenger v{result.shadow_version} in shadow" if result.shadow_version \
        else ""
    click.echo(f"scored {plural(result.rows, 'row')} with v{result.version}{shadow} in "
               f"{result.seconds:.2f}s (run {result.run})")
    summary = result.summary
    if summary.class_shares is not None:
        click.echo("predicted: " + ", ".join(
            f"{k} {v:.1%}" for k, v in summary.class_shares.items()))
    elif summary.quantiles is not None:
        q = summary.quantiles
        click.echo(f"predicted: mean {summary.mean:.4g}, median {q.p50:.4g}, "
                   f"p05–p95 {q.p05:.4g}–{q.p95:.4g}")
    if result.out:
        click.echo(f"wrote {result.out}")
    elif result.preview:
        from rich.table import Column, Table
        from rich.text import Text

        # Column names and identifiers come from the data: Text, never markup (a Table
        # takes a Text header only inside a Column).
        table = Table(*(Column(Text(k)) for k in result.preview[0]))
        for row in result.preview:
            table.add_row(*(Text(_cell(v)) for v in row.values()))
        console().print(table)
        if result.rows > len(result.preview):
            note(f"first {plural(len(result.preview), 'row')} shown; use --out to write all")


def _cell(value: object) -> str:
    """A preview cell: probabilities to 4 places, booleans as the class names spell them."""
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:.4f}" if isinstance(value, float) else str(value)


@click.command()
@click.argument("project")
@click.option("--model", "ref", default="champion", show_default=True,
              help="Version number or alias to serve (an alias follows its moves).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--no-shadow", is_flag=True, help="Do not score the challenger alongside.")
@click.option("--max-body", default=10.0, show_default=True, type=click.FloatRange(min=0.001),
              metavar="MIB", help="Largest request body, in MiB (larger ones get 413).")
@click.option("--timeout", default=30.0, show_default=True, type=click.FloatRange(min=0.1),
              metavar="SECONDS", help="Close a connection that stays silent this long.")
@click.pass_obj
def serve(ctx: Context, project: str, ref: str, host: str, port: int, no_shadow: bool,
          max_body: float, timeout: float) -> None:
    """Serve predictions over HTTP JSON: POST /predict, GET /health, GET /openapi.json, and
    the Open Inference Protocol v2 (POST /v2/models/PROJECT/infer, as KServe and Triton)."""
    from mlcycle.deploy import serve as service

    service.run(ctx.workspace(), project, ref, host, port, shadow=not no_shadow,
                say=lambda text: click.echo(text, err=True),
                max_body=int(max_body * 2**20), idle_timeout=timeout)


@click.command()
@click.argument("project")
@click.argument("labels", type=click.Path(dir_okay=False))
@click.option("--promote", is_flag=True,
              help="Make the challenger champion if it wins (recorded in the audit trail).")
@click.option("--reason", help="Why, for the audit trail (with --promote).")
@json_option
@click.pass_obj
def compare(ctx: Context, project: str, labels: str, promote: bool, reason: str | None,
            as_json: bool) -> None:
    """Champion vs challenger on shadowed rows whose labels arrived (LABELS: id + target)."""
    from mlcycle.deploy import comparison

    result = comparison.compare(ctx.workspace(), project, labels, promote, reason)
    if as_json:
        emit_json(result.to_dict())
        return
    from rich.table import Table

    champ, chall = result.champion, result.challenger
    table = Table("metric", f"champion v{champ.version}", f"challenger v{chall.version}")
    for key, value in champ.metrics.items():
        mark = " ◀" if key == result.metric else ""
        table.add_row(key + mark, f"{value:.4f}",
                      f"{chall.metrics.get(key, float('nan')):.4f}")
    click.echo(f"{result.rows} labelled rows scored by both models")
    console().print(table)
    click.echo(result.verdict)
    if result.promoted:
        click.echo(f"promoted v{chall.version} to champion: {result.reason}")
