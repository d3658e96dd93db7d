"""The relation classifier family's one declaration (see `geohub.family`)."""

from ...family import CardDecl, DemoDecl, Family, OptOut

FAMILY = Family(
    name="relation_classifier",
    package=__package__,
    input_type="text",
    config=".configuration_relation_classifier:RelationClassifierConfig",
    model_type="geohub_relation_classifier",
    models={".modeling_relation_classifier:RelationClassifierForPairClassification": "AutoModel"},
    processor=None,  # the MiniLM tokenizer, saved beside the model, loads with AutoTokenizer
    processor_auto="AutoTokenizer",
    task="relation_classification",
    task_object="geohub.training.relations:RELATION_CLASSIFICATION",
    card=CardDecl(
        task_name="Relation classification",
        architecture="all-MiniLM-L6-v2 (BERT) encoder reading the abstract with entity markers around every mention "
        "(ATLOP-style); MLP over head/tail entity states, type and distance features; classes: no_relation + "
        "located_in, age_of, hosts, measured_by, overlies, causes, part_of",
        citation="Zhou, W., Huang, K., Ma, T. & Huang, J. (2021). Document-level relation extraction with adaptive "
        "thresholding and localized context pooling (ATLOP). AAAI. arXiv:2010.11304; Wang, W. et al. (2020). MiniLM. "
        "NeurIPS. arXiv:2002.10957",
        data="geohub geophysics abstracts corpus (geohub/data/corpus, relations annotated between its entities).",
        tags=("geoscience-literature", "relation-extraction", "knowledge-extraction"),
        pipeline_tag=None,
    ),
    # the Knowledge tab's relation step (`--relation-model`, GEOHUB_RELATION_MODEL); also the knowledge pipeline's
    # and `extract`'s default relation model (`geohub.inference.relations.default_relation_model`)
    demo=DemoDecl(
        "relation_classification",
        "--relation-model",
        "GEOHUB_RELATION_MODEL",
        "relation classifier",
        tab="knowledge",
        role="relations",
    ),  # fmt: skip
    quickstart={
        "model_name_or_path": "minilm",
        "dataset": "geo_corpus",
        "freeze_encoder": True,
        "no_relation_weight": 0.3,
        "rule_features": True,  # as recipes/knowledge_extraction/config_relations.yaml (held-out F1 0.576, rules 0.346)
        "context_features": True,
        "num_heads": 3,
        "scale_validation_fraction": 0.25,  # the no_relation threshold chosen on the last quarter of training docs
        "warmup_steps": 0.06,
        "num_train_epochs": 15,
        "per_device_train_batch_size": 32,
        "learning_rate": 1e-3,
        "weight_decay": 0.01,
        "eval_strategy": "no",
        "save_strategy": "no",
        "report_to": "none",
        "seed": 42,
    },
    quickstart_order=65,
    shipped_default="default",  # written by the quickstart recipe above (model card: default/README.md)
    quickstart_smoke={"max_train_samples": 8, "max_eval_samples": 4, "num_train_epochs": 1},  # fmt: skip
    explain=OptOut("the relation classifier reads entity markers over a whole abstract; no attribution recipe yet"),
    export=OptOut("needs entity-marker positions beside the text; no ONNX recipe yet"),
)
