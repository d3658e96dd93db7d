"""The extractive summarizer family's one declaration (see `geohub.family`)."""

from ...family import CardDecl, DemoDecl, ExportDecl, Family, PipelineDecl

FAMILY = Family(
    name="extractive_summarizer",
    package=__package__,
    input_type="text",
    config=".configuration_extractive_summarizer:ExtractiveSummarizerConfig",
    model_type="geohub_extractive_summarizer",
    models={".modeling_extractive_summarizer:ExtractiveSummarizerForSentenceExtraction": "AutoModel"},
    processor=None,  # the MiniLM tokenizer, saved beside the model, loads with AutoTokenizer
    processor_auto="AutoTokenizer",
    pipelines=(
        PipelineDecl(
            "extractive-summarization", "geohub.pipelines.text:GeoSummarizationPipeline", "AutoModel", "text"
        ),
    ),
    task="summarization",
    task_object="geohub.training.summarization:SUMMARIZATION",
    card=CardDecl(
        task_name="Summarization",
        architecture="MiniLM sentence embeddings with document features (position, similarity to the document and "
        "the title, TF-IDF centroid similarity, title overlap): a linear scorer over the features plus an optional "
        "cross-sentence-attention scorer over the embeddings (BertSum-style), trained on soft oracle labels; then a "
        "keep/drop head over the token states deletes words of the chosen sentence (order kept)",
        citation="Liu, Y. & Lapata, M. (2019). Text summarization with pretrained encoders. EMNLP. "
        "arXiv:1908.08345; Wang, W. et al. (2020). MiniLM. NeurIPS. arXiv:2002.10957",
        data="SciTLDR-A (Cachola et al. 2020; abstracts with author/peer-review TLDRs, training split, 1,992) and the "
        "geohub geophysics abstracts corpus (geohub/data/corpus, training split, three times).",
        tags=("geoscience-literature", "summarization", "extractive-summarization"),
        # the Hub's summarization widget runs a text2text model; an extractive scorer is not one
        pipeline_tag=None,
    ),
    demo=DemoDecl(
        "summarization", "--summarization-model", "GEOHUB_SUMMARIZATION_MODEL", "abstract summarizer", tab="summarize"
    ),
    quickstart={  # = recipes/summarization/config_extractive.yaml without checkpoints (needs SciTLDR-A, see README)
        "model_name_or_path": "minilm",
        "architecture": "extractive",
        "dataset": "scitldr",
        "dataset_dir": "../shared/data/scitldr-a",
        "eval_split": "dev",
        "extra_train_dataset": "geo_corpus",
        "extra_train_repeats": 3,
        "use_features": True,
        "embedding_scorer": False,
        "extractive_loss": "listwise",
        "label_sharpness": 4.0,
        "title_dropout": 0.3,
        "compression": True,
        "compression_threshold": 0.2,
        "compression_min_words": 8,
        "compression_min_run": 1,
        "embedding_cache_dir": "runs/summarization/.embedding_cache",
        "num_train_epochs": 20,
        "per_device_train_batch_size": 32,
        "learning_rate": 1e-2,
        "eval_strategy": "no",
        "save_strategy": "no",
        "report_to": "none",
        "seed": 42,
    },
    quickstart_order=50,
    shipped_default="default",  # written by the quickstart recipe above (model card: default/README.md)
    quickstart_smoke={
        "dataset": "geo_corpus",
        "extra_train_dataset": None,
        "embedding_cache_dir": None,
        "max_train_samples": 8,
        "max_eval_samples": 4,
        "num_train_epochs": 1,
        "compression_epochs": 1,
    },  # fmt: skip
    explain=".explain_extractive_summarizer",
    export=ExportDecl(
        example=".export_extractive_summarizer:example_inputs",
        exporters=("dynamo", "torchscript"),
        dynamic_axes={
            "input_ids": {0: "batch", 1: "sentences", 2: "tokens"},
            "attention_mask": {0: "batch", 1: "sentences", 2: "tokens"},
            "sentence_features": {0: "batch", 1: "sentences"},
            "title_input_ids": {0: "batch", 1: "title_tokens"},
            "title_attention_mask": {0: "batch", 1: "title_tokens"},
            "title_mask": {0: "batch"},
        },
    ),  # fmt: skip
    tiny_config={"max_sentences": 8, "num_attention_heads": 2},
)
