"""The neural point process family's one declaration (see `geohub.family`)."""

from ...family import CardDecl, Family, OptOut, PipelineDecl

FAMILY = Family(
    name="neural_point_process",
    package=__package__,
    input_type="catalog",
    config=".configuration_neural_point_process:NeuralPointProcessConfig",
    model_type="geohub_neural_point_process",
    models={".modeling_neural_point_process:NeuralPointProcessForForecasting": "AutoModel"},
    pipelines=(PipelineDecl("earthquake-forecasting", "geohub.pipelines.forecast:EarthquakeForecastingPipeline"),),
    task="neural_point_process",
    task_object="geohub.training.forecasting:NEURAL_POINT_PROCESS",
    card=CardDecl(
        task_name="Earthquake forecasting",
        architecture="GRU over events (log inter-event time, magnitude, multi-scale decaying history states) with a "
        "log-normal mixture of the next inter-event time and Gutenberg-Richter magnitude marks",
        citation="Shchur, O., Bilos, M. & Guennemann, S. (2020). Intensity-free learning of temporal point processes. "
        "ICLR. Benchmark: Stockman, S., Lawson, D. J. & Werner, M. J. (2024). EarthquakeNPP: benchmark datasets "
        "for earthquake forecasting with neural point processes. arXiv:2410.08226",
        data="The San Jacinto region of the QTM relocated catalogue of Southern California (Ross et al. 2019, "
        "Science 364, 767-771; data from SCEDC, Caltech/USGS), M >= 1.0, as cut by the EarthquakeNPP benchmark "
        "(MIT licence); training 2009-2014, validation 2015, 2008 as conditioning history. Terms: cite the catalogue (Ross et al. 2019) and acknowledge SCEDC "
        "(SCEDC 2013, doi:10.7909/C3WD3xH1); keep the benchmark's MIT notice with copies of its cut. Published "
        "EarthquakeNPP test scores (temporal log-likelihood per event, 2016-2017): Poisson 0.794, ETAS 1.133.",
        tags=("seismology", "earthquake-forecasting", "point-process"),
        pipeline_tag=None,
    ),
    shipped_default="default",  # fitted on SanJac by its recipe in recipes/earthquake_forecasting/
    explain=OptOut("a forecast is a rate over an event sequence; no attribution recipe for catalogue models yet"),
    export=OptOut("catalogue models take variable-length event sequences; no ONNX recipe for them yet"),
)
