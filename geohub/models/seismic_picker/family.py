"""The seismic picker family's one declaration (see `geohub.family`)."""

from ...family import CardDecl, DemoDecl, ExportDecl, Family, PipelineDecl

FAMILY = Family(
    name="seismic_picker",
    package=__package__,
    input_type="waveform",
    config=".configuration_seismic_picker:SeismicPickerConfig",
    model_type="geohub_seismic_picker",
    legacy_model_types=("seismic_picker",),
    models={".modeling_seismic_picker:SeismicPickerForPhasePicking": "AutoModel"},
    processor=".processing_seismic_picker:SeismicFeatureExtractor",
    processor_auto="AutoFeatureExtractor",
    pipelines=(PipelineDecl("seismic-phase-picking", "geohub.pipelines.seismic:SeismicPhasePickingPipeline"),),
    task="seismic_picking",
    task_object="geohub.training.seismic:SEISMIC_PICKING",
    card=CardDecl(
        task_name="Seismic phase picking",
        architecture="PhaseNet-style 1-D U-Net with an event-detection head",
        citation="Zhu, W. & Beroza, G. C. (2019). PhaseNet: a deep-neural-network-based seismic arrival-time "
        "picking method. Geophysical Journal International 216(1), 261-273. doi:10.1093/gji/ggy423",
        data="geohub synthetic seismograms (geohub.data.synthetic_seismic), generated at training time.",
        tags=("seismology", "phase-picking", "earthquake-detection"),
        pipeline_tag=None,
    ),
    demo=DemoDecl(
        "seismic_picking",
        "--picker-model",
        "GEOHUB_PICKER_MODEL",
        "P/S phase picker and detector",
        tab="seismic",
        role="picker",
        choice="geohub U-Net",
        preference=2,
    ),
    quickstart={
        "dataset": "synthetic",
        "num_train_windows": 3000,  # 1200 x 2 epochs gave held-out P F1 0.04; 3000 x 4: P 0.98, S 0.96 (~75 s quiet)
        "num_eval_windows": 200,
        "num_train_epochs": 4,
        "per_device_train_batch_size": 16,
        "per_device_eval_batch_size": 32,
        "learning_rate": 3e-3,
        "eval_strategy": "no",
        "save_strategy": "no",
        "logging_steps": 25,
        "report_to": "none",
        "seed": 42,
    },
    quickstart_order=10,
    shipped_default="default",  # written by the quickstart recipe above (model card: default/README.md)
    quickstart_smoke={
        "num_train_windows": 32,
        "num_eval_windows": 16,
        "num_train_epochs": 1,
        "hidden_sizes": "4,8,8",
        "per_device_train_batch_size": 16,
    },  # fmt: skip
    waveform=".waveform_seismic_picker",
    explain=".explain_seismic_picker",
    export=ExportDecl(formats=("onnx",)),  # convolution only: nothing for int8 to quantise
    tiny_config={"hidden_sizes": [4, 8, 12], "kernel_size": 5, "window_length": 1000},
)
