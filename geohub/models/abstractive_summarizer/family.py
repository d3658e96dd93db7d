"""The abstractive (BERT2BERT) summarizer family's one declaration (see `geohub.family`).

The model is transformers' own `EncoderDecoderModel` warm-started from MiniLM (trained by the `summarization`
task with `architecture: bert2bert`); geohub adds its pipeline, card and training recipe.
"""

from ...family import CardDecl, Family, OptOut, PipelineDecl

FAMILY = Family(
    name="abstractive_summarizer",
    package=__package__,
    input_type="text",
    stock_model_types=("encoder-decoder",),
    processor_auto="AutoTokenizer",
    pipelines=(
        PipelineDecl(
            "geo-summarization", "geohub.pipelines.text:GeoSummarizationPipeline", "AutoModelForSeq2SeqLM", "text"
        ),
    ),
    card=CardDecl(
        task_name="Summarization",
        architecture="BERT2BERT encoder-decoder warm-started from all-MiniLM-L6-v2",
        citation="Rothe, S., Narayan, S. & Severyn, A. (2020). Leveraging pre-trained checkpoints for sequence "
        "generation tasks. TACL 8, 264-280. arXiv:1907.12461",
        data="geohub geophysics abstracts corpus (geohub/data/corpus, original abstracts with summaries).",
        tags=("geoscience-literature", "summarization", "abstractive-summarization"),
        pipeline_tag="summarization",
    ),
    explain=OptOut("a generated summary has no single scalar to attribute (sequence-to-sequence generation)"),
    export=OptOut("generates text (encoder-decoder): export it with optimum's seq2seq exporter"),
)
