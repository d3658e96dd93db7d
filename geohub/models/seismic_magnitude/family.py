"""The seismic magnitude family's one declaration (see `geohub.family`)."""

from ...family import CardDecl, DemoDecl, ExportDecl, Family, PipelineDecl

FAMILY = Family(
    name="seismic_magnitude",
    package=__package__,
    input_type="waveform",
    config=".configuration_seismic_magnitude:SeismicMagnitudeConfig",
    model_type="geohub_seismic_magnitude",
    legacy_model_types=("seismic_magnitude",),
    models={".modeling_seismic_magnitude:SeismicMagnitudeForRegression": "AutoModel"},
    processor=".processing_seismic_magnitude:SeismicMagnitudeFeatureExtractor",
    processor_auto="AutoFeatureExtractor",
    pipelines=(PipelineDecl("seismic-magnitude", "geohub.pipelines.seismic:SeismicMagnitudePipeline"),),
    task="seismic_magnitude",
    task_object="geohub.training.seismic:SEISMIC_MAGNITUDE",
    card=CardDecl(
        task_name="Earthquake magnitude estimation",
        architecture="MagNet-style convolutional + bidirectional LSTM regressor with aleatoric uncertainty",
        citation="Mousavi, S. M. & Beroza, G. C. (2020). A machine-learning approach for earthquake magnitude "
        "estimation. Geophysical Research Letters 47(1). doi:10.1029/2019GL085976",
        data="geohub synthetic seismograms (geohub.data.synthetic_seismic), generated at training time.",
        tags=("seismology", "earthquake-magnitude"),
        pipeline_tag=None,
    ),
    demo=DemoDecl(
        "seismic_magnitude",
        "--magnitude-model",
        "GEOHUB_MAGNITUDE_MODEL",
        "magnitude estimator",
        tab="seismic",
        role="magnitude",
    ),
    quickstart={
        "dataset": "synthetic",
        "num_train_windows": 1200,
        "num_eval_windows": 200,
        "num_train_epochs": 2,
        "per_device_train_batch_size": 32,
        "per_device_eval_batch_size": 64,
        "learning_rate": 3e-3,
        "eval_strategy": "no",
        "save_strategy": "no",
        "logging_steps": 25,
        "report_to": "none",
        "seed": 42,
    },
    quickstart_order=20,
    shipped_default="default",  # written by the quickstart recipe above (model card: default/README.md)
    quickstart_smoke={
        "num_train_windows": 32,
        "num_eval_windows": 16,
        "num_train_epochs": 1,
        "conv_channels": "8,8",
        "lstm_hidden_size": 8,
        "per_device_train_batch_size": 16,
    },  # fmt: skip
    waveform=".waveform_seismic_magnitude",
    explain=".explain_seismic_magnitude",
    export=ExportDecl(
        example=".export_seismic_magnitude:example_inputs",
        dynamic_axes={"inputs": {0: "batch", 2: "samples"}, "log_amplitude": {0: "batch"}},
    ),
    tiny_config={"conv_channels": [4, 8], "lstm_hidden_size": 6, "window_length": 1000},
)
