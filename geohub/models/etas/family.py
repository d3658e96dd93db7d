"""The ETAS family's one declaration (see `geohub.family`)."""

from ...family import CardDecl, DemoDecl, Family, OptOut, PipelineDecl

FAMILY = Family(
    name="etas",
    package=__package__,
    input_type="catalog",
    config=".configuration_etas:EtasConfig",
    model_type="geohub_etas",
    models={".modeling_etas:EtasForForecasting": "AutoModel"},
    pipelines=(PipelineDecl("earthquake-forecasting", "geohub.pipelines.forecast:EarthquakeForecastingPipeline"),),
    task="etas",
    task_object="geohub.training.forecasting:ETAS_FIT",
    card=CardDecl(
        task_name="Earthquake forecasting",
        architecture="Temporal ETAS (Omori-Utsu decay with exponential taper, magnitude-dependent productivity, "
        "Gutenberg-Richter magnitudes) fitted by maximum likelihood",
        citation="Ogata, Y. (1988). Statistical models for earthquake occurrences and residual analysis for point "
        "processes. JASA 83(401), 9-27. Benchmark: Stockman, S., Lawson, D. J. & Werner, M. J. (2024). "
        "EarthquakeNPP: benchmark datasets for earthquake forecasting with neural point processes. arXiv:2410.08226",
        data="The San Jacinto region of the QTM relocated catalogue of Southern California (Ross et al. 2019, "
        "Science 364, 767-771; data from SCEDC, Caltech/USGS), M >= 1.0, as cut by the EarthquakeNPP benchmark "
        "(MIT licence); training 2009-2015 with 2008 as conditioning history. Terms: cite the catalogue (Ross et al. 2019) and acknowledge SCEDC "
        "(SCEDC 2013, doi:10.7909/C3WD3xH1); keep the benchmark's MIT notice with copies of its cut. Published "
        "EarthquakeNPP test scores (temporal log-likelihood per event, 2016-2017): Poisson 0.794, ETAS 1.133.",
        tags=("seismology", "earthquake-forecasting", "point-process"),
        pipeline_tag=None,
    ),
    # the Forecast tab (its own builder); the slot takes any catalogue model (ETAS or the neural point process)
    demo=DemoDecl(
        "earthquake_forecasting",
        "--forecast-model",
        "GEOHUB_FORECAST_MODEL",
        "earthquake forecaster",
        tab="geohub.demo.forecast:build_tab",
    ),
    shipped_default="default",  # fitted on SanJac by its recipe in recipes/earthquake_forecasting/
    explain=OptOut("a forecast is a rate over an event sequence; no attribution recipe for catalogue models yet"),
    export=OptOut("catalogue models take variable-length event sequences; no ONNX recipe for them yet"),
)
