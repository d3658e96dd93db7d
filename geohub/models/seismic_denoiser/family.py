"""The seismic denoiser family's one declaration (see `geohub.family`)."""

from ...family import CardDecl, DemoDecl, ExportDecl, Family, PipelineDecl

FAMILY = Family(
    name="seismic_denoiser",
    package=__package__,
    input_type="waveform",
    config=".configuration_seismic_denoiser:SeismicDenoiserConfig",
    model_type="geohub_seismic_denoiser",
    models={".modeling_seismic_denoiser:SeismicDenoiserForDenoising": "AutoModel"},
    processor=".processing_seismic_denoiser:SeismicDenoiserFeatureExtractor",
    processor_auto="AutoFeatureExtractor",
    pipelines=(PipelineDecl("seismic-denoising", "geohub.pipelines.denoise:SeismicDenoisingPipeline"),),
    task="seismic_denoising",
    task_object="geohub.training.denoising:SEISMIC_DENOISING",
    card=CardDecl(
        task_name="Seismic denoising",
        architecture="DeepDenoiser-style STFT-domain 2-D U-Net predicting signal and noise masks",
        citation="Zhu, W., Mousavi, S. M. & Beroza, G. C. (2019). Seismic signal denoising and decomposition using "
        "deep neural networks. IEEE Transactions on Geoscience and Remote Sensing 57(11), 9476-9488. "
        "doi:10.1109/TGRS.2019.2926772",
        data="geohub synthetic earthquakes (geohub.data.synthetic_seismic) mixed with real pre-P noise from "
        "PhaseNet-NCEDC training stations.",
        tags=("seismology", "denoising", "autoencoder"),
        pipeline_tag=None,
    ),
    quickstart={
        "noise": "synthetic",
        "num_train_windows": 400,
        "num_eval_windows": 32,
        "window_length": 1000,
        "hidden_sizes": "8,16,32",
        "num_train_epochs": 1,
        "per_device_train_batch_size": 16,
        "per_device_eval_batch_size": 32,
        "learning_rate": 3e-3,
        "eval_strategy": "no",
        "save_strategy": "no",
        "logging_steps": 10,
        "report_to": "none",
        "seed": 42,
    },
    demo=DemoDecl(
        "seismic_denoising",
        "--denoiser-model",
        "GEOHUB_DENOISER_MODEL",
        "seismic denoiser",
        tab="seismic",
        role="denoiser",
    ),
    quickstart_order=15,
    shipped_default="default",  # written by the quickstart recipe above (model card: default/README.md)
    quickstart_smoke={"num_train_windows": 32, "num_eval_windows": 8, "hidden_sizes": "4,8"},  # fmt: skip
    explain=".explain_seismic_denoiser",
    export=ExportDecl(formats=("onnx",)),  # convolution only: nothing for int8 to quantise
    tiny_config={"hidden_sizes": [4, 8], "window_length": 600},
)
