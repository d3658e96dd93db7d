"""The entity tagger family's one declaration (see `geohub.family`).

The model is transformers' own `BertForTokenClassification` on all-MiniLM-L6-v2; geohub adds its data readers,
training task, pipeline (entities and relations into a knowledge graph), card and demo slot.
"""

from ...family import CardDecl, DemoDecl, ExportDecl, Family, PipelineDecl

FAMILY = Family(
    name="entity_tagger",
    package=__package__,
    input_type="text",
    stock_model_types=("bert",),
    processor_auto="AutoTokenizer",
    pipelines=(
        PipelineDecl(
            "knowledge-extraction",
            "geohub.pipelines.text:KnowledgeExtractionPipeline",
            "AutoModelForTokenClassification",
            "text",
        ),
    ),
    task="knowledge_extraction",
    task_object="geohub.training.text:KNOWLEDGE_EXTRACTION",
    card=CardDecl(
        task_name="Geoscience entity extraction",
        architecture="all-MiniLM-L6-v2 (BERT) encoder with a token-classification head",
        citation="Wang, W. et al. (2020). MiniLM: deep self-attention distillation for task-agnostic compression "
        "of pre-trained transformers. NeurIPS. arXiv:2002.10957",
        data="geohub geophysics abstracts corpus (geohub/data/corpus, original abstracts with entity annotations).",
        tags=("geoscience-literature", "named-entity-recognition", "knowledge-extraction"),
        pipeline_tag="token-classification",
    ),
    demo=DemoDecl(
        "knowledge_extraction", "--knowledge-model", "GEOHUB_KNOWLEDGE_MODEL", "entity tagger", tab="knowledge"
    ),
    quickstart={
        "model_name_or_path": "minilm",
        "dataset": "geo_corpus",
        "max_length": 128,
        "num_train_epochs": 5,  # one example per sentence + weakly labelled summaries: 815 steps (~6 min, 2 cores)
        "per_device_train_batch_size": 8,
        "use_lora": True,  # shipped as a 2.7 MB adapter on the offline MiniLM: held-out F1 0.757 (full fine-tune,
        "lora_r": 16,  # lr 3e-4: 0.777); every type > 0.5 (recipes/knowledge_extraction/README.md, "Shipped default")
        "lora_alpha": 32,
        "lora_target_modules": "query,key,value,dense",
        "learning_rate": 1e-3,
        "warmup_steps": 0.1,
        "eval_strategy": "no",
        "save_strategy": "no",
        "report_to": "none",
        "seed": 42,
    },
    quickstart_order=60,
    shipped_default="default",  # written by the quickstart recipe above (model card: default/README.md)
    quickstart_smoke={"max_train_samples": 16, "max_eval_samples": 8, "num_train_epochs": 1},  # fmt: skip
    explain=".explain_entity_tagger",
    export=ExportDecl(),
    tiny_config={
        "model_type": "bert",
        "vocab_size": 100,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "num_labels": 5,
    },
)
