"""`tfl train`: train a classifier from a YAML config and/or flags."""

import argparse
import datetime
import os

from tfl.cli import arguments


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="train a classifier (feature extraction, then staged fine-tuning)",
        description=(
            "Train an image classifier on a pretrained backbone, or a text classifier on a "
            "pretrained BERT-family encoder, and write model.keras, report.json, "
            "config.yaml, training.png and confusion_matrix.png (and adaptation.png with --adapt) to --output. "
            "Flags override the config file."
        ),
    )
    add_config_arguments(parser)
    parser.set_defaults(run=run)
    return parser


def add_config_arguments(parser):
    """The flags of a training plan and its run folder that `config_from_args`
    reads; `tfl cv` has them too."""
    add_plan_arguments(parser)
    _add_run_arguments(parser)


def add_plan_arguments(parser):
    """The flags of a training plan (data, model, training, fusion and
    adaptation, self-training) that `config_from_args` reads: every command
    that builds a config from flags takes all of them (`tfl tune` has its own
    output flags)."""
    _add_data_arguments(parser)
    _add_model_arguments(parser)
    _add_training_arguments(parser)
    _add_loss_and_sampling_arguments(parser)
    _add_fusion_and_adaptation_arguments(parser)
    _add_self_training_arguments(parser)


def _add_data_arguments(parser):
    group = parser.add_argument_group("data")
    group.add_argument("--config", help="YAML config file (see docs/config.md)")
    group.add_argument(
        "--data",
        help="images: folder of class folders, tfds:NAME, or 'digits'; "
        "text: a .csv/.tsv/.jsonl file, tfds:NAME, or 'tweets'",
    )
    group.add_argument("--val-data", help="held-out images folder or text file (else a split of --data)")
    group.add_argument("--task", choices=("image", "text"), help="default: detected from --data")
    group.add_argument("--text-column", help="text: the column holding the text (default: text)")
    group.add_argument("--text-pair-column", help="text: a second text column, for sentence pairs")
    group.add_argument("--label-column", help="text: the column holding the label (default: label)")
    group.add_argument("--label-separator", help="text: splits a label cell into several labels (multi-label)")


def _add_model_arguments(parser):
    group = parser.add_argument_group("model")
    group.add_argument("--backbone", help="images: backbone name, see `tfl backbones`")
    group.add_argument(
        "--encoder",
        help="text: KerasHub preset name, local preset or Hugging Face folder, or "
        "all_minilm_l6_v2 (the default); see `tfl backbones --text`",
    )
    group.add_argument("--sequence-length", type=arguments.positive_int, help="text: tokens per example")
    group.add_argument("--pooling", help="images: avg, max; text: cls, mean, lstm")
    group.add_argument("--weights", type=arguments.weights, help=arguments.WEIGHTS_CHOICES)
    group.add_argument("--image-size", type=arguments.image_size, help="N or HxW (default: the backbone's)")
    group.add_argument(
        "--resize",
        choices=("crop", "stretch"),
        help="images: crop (the default: centre-crop each image to the aspect ratio of the image size, "
        "then resize) or stretch (resize the whole image, aspect ratio lost)",
    )
    group.add_argument(
        "--head",
        choices=("dense", "prototypes"),
        help="dense (the default: a linear layer) or prototypes (class means of the frozen features, "
        "fitted by the probe stage; new classes later with model.add_classes)",
    )
    group.add_argument(
        "--prototype-metric", choices=("cosine", "euclidean"), help="with --head prototypes: cosine (the default)"
    )
    group.add_argument(
        "--prototype-temperature",
        type=float,
        help="with --head prototypes: scores are divided by it (default 0.1 cosine, 1.0 euclidean)",
    )


def _add_training_arguments(parser):
    group = parser.add_argument_group("training")
    group.add_argument(
        "--stages",
        help="comma-separated UNFREEZE[:EPOCHS[:LR]] or 'probe', e.g. 'probe,top2:3:1e-4' "
        "(UNFREEZE: none, all, topN, or stage names joined by +; probe: a linear probe on cached features)",
    )
    group.add_argument(
        "--plan",
        choices=("default", "fine_tune"),
        help="the plan, instead of --stages (and of a --config file's train.stages): default (LP-FT: probe, "
        "then top 2 at 1e-4) or fine_tune (fastai-style: probe, then all stages on a one-cycle with "
        "discriminative rates)",
    )
    group.add_argument(
        "--epochs",
        type=arguments.positive_int,
        help="epochs per stage without its own (also the plan strings of a --config file's train.stages)",
    )
    group.add_argument("--batch-size", type=arguments.positive_int)
    group.add_argument("--seed", type=int)
    group.add_argument("--augment", type=arguments.augmentation, help="e.g. 'flip,rotation=0.1,zoom=0.1'")
    group.add_argument(
        "--skip-bad-files", action="store_true", default=None, help="skip unreadable images and bad text rows"
    )
    group.add_argument(
        "--feature-cache", choices=("auto", "off"), help="train head stages on cached backbone features (auto)"
    )
    group.add_argument("--feature-cache-dir", help="keep cached features in this folder between runs")
    group.add_argument(
        "--augmented-views", type=arguments.positive_int, help="with --augment: augmented views to cache per image"
    )
    group.add_argument("--jit-compile", action="store_true", default=None, help="compile training steps with XLA")
    group.add_argument(
        "--deterministic",
        action="store_true",
        default=None,
        help="deterministic TensorFlow ops: the same --seed gives the same results, also on GPUs (slower there)",
    )
    group.add_argument(
        "--strategy",
        choices=("mirrored", "multi_worker", "tpu"),
        help="tf.distribute: mirrored (all local GPUs), multi_worker (TF_CONFIG), tpu; "
        "--batch-size is the global batch (docs/distributed.md)",
    )
    group.add_argument(
        "--mixed-precision", choices=("mixed_float16", "mixed_bfloat16"), help="16-bit computation, float32 weights"
    )


def _add_loss_and_sampling_arguments(parser):
    group = parser.add_argument_group("loss, sampling and early stopping")
    group.add_argument("--label-smoothing", type=float, help="targets move this far towards uniform, in [0, 1)")
    group.add_argument(
        "--class-weight",
        type=arguments.class_weight,
        help="'balanced' (from the training labels) or CLASS=WEIGHT pairs, e.g. 'ants=1,bees=2'",
    )
    group.add_argument("--weight-decay", type=float, help="decoupled weight decay of every stage's optimizer")
    group.add_argument(
        "--early-stopping",
        type=arguments.positive_int,
        metavar="PATIENCE",
        help="stop each stage after PATIENCE epochs without a lower val_loss; every stage ends on its best epoch",
    )
    group.add_argument(
        "--mixup", type=float, metavar="ALPHA", help="images: MixUp with Beta(ALPHA, ALPHA), e.g. 0.2 (needs "
        "--feature-cache off and stages without a probe)"
    )
    group.add_argument("--cutmix", type=float, metavar="ALPHA", help="images: CutMix with Beta(ALPHA, ALPHA), e.g. 1.0")
    group.add_argument(
        "--balanced-sampling",
        action="store_true",
        default=None,
        help="draw training examples with every class equally often (single-label data)",
    )


def _add_fusion_and_adaptation_arguments(parser):
    group = parser.add_argument_group("fusion and domain adaptation")
    group.add_argument(
        "--fusion",
        choices=("weighted", "gated", "concat"),
        help="images: fuse the (frozen) backbone with a trainable target branch before the head",
    )
    group.add_argument("--fusion-branch", help="with --fusion: small_cnn (default) or a backbone name")
    group.add_argument(
        "--target-data",
        help="images of the target domain for --adapt: a folder (class folders = labelled, "
        "loose images = unlabelled) or 'digits_recoloured'",
    )
    group.add_argument(
        "--adapt",
        choices=("source_only", "joint", "mmd", "coral", "dann"),
        help="domain adaptation method, run after the stages on --data and --target-data",
    )
    group.add_argument("--adapt-alpha", type=float, help="weight of the source loss, in [0, 1] (1)")
    group.add_argument("--adapt-beta", type=float, help="weight of the labelled-target loss, in [0, 1] (1)")
    group.add_argument("--align-weight", type=float, help="weight (lambda) of the alignment term, >= 0 (1)")
    group.add_argument("--adapt-epochs", type=arguments.positive_int, help="epochs of adaptation (5)")
    group.add_argument(
        "--target-labels-per-class", type=int, help="target labels used per class (default: all; 0: none)"
    )


def _add_self_training_arguments(parser):
    group = parser.add_argument_group(
        "self-training (semi-supervised)",
        "Round 0 runs the plan on the labels; each further round pseudo-labels the unlabelled examples "
        "whose top probability reaches the threshold (classes in the labelled proportions) and runs the "
        "plan again from the start on labels + pseudo-labels (docs/semi_supervised.md).",
    )
    group.add_argument(
        "--unlabeled",
        metavar="PATH",
        help="unlabelled examples: images: a folder of loose images (class folders named like the classes "
        "only score the pseudo-labels); text: a .csv/.tsv/.jsonl file with the text column",
    )
    group.add_argument(
        "--pseudo-label-threshold",
        type=float,
        metavar="P",
        help="least top probability for a pseudo-label, in (0, 1] (0.9)",
    )
    group.add_argument(
        "--self-training-rounds",
        type=arguments.positive_int,
        metavar="N",
        help="pseudo-label rounds after the first (3)",
    )
    group.add_argument(
        "--self-training-method",
        choices=("pseudo_label", "fixmatch"),
        help="pseudo_label (rounds, the default with --unlabeled) or fixmatch (images: weak/strong views on the fly; "
        "needs --feature-cache off and stages without a probe)",
    )
    group.add_argument(
        "--fixmatch-lambda-u", type=float, metavar="W", help="fixmatch: weight of the unlabelled loss (1)"
    )
    group.add_argument(
        "--fixmatch-mu", type=arguments.positive_int, metavar="MU", help="fixmatch: unlabelled images per labelled one (7)"
    )
    group.add_argument(
        "--pseudo-label-balance",
        choices=("proportional", "none"),
        help="proportional (classes in the labelled proportions, the default) or none (every confident example)",
    )


def _add_run_arguments(parser):
    group = parser.add_argument_group("run folder")
    group.add_argument("--output", help="run folder to write (default: runs/BACKBONE-TIMESTAMP)")
    group.add_argument("--overwrite", action="store_true", help="allow a non-empty --output folder")
    group.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="continue the unfinished run in --output (the default when it has one of the same config: "
        "running the same command again after a crash continues from the last finished epoch); "
        "--no-resume discards it and starts over",
    )
    group.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        help="Keras verbosity: 0 silent, 1 a progress bar (the default on a terminal), "
        "2 one line per epoch (the default when the output goes to a file or a pipe)",
    )


# Flags that set one config key each: (argparse dest, dotted config key).
_FLAG_KEYS = (
    ("task", "task"),
    ("data", "data.source"),
    ("text_column", "data.text_column"),
    ("text_pair_column", "data.text_pair_column"),
    ("label_column", "data.label_column"),
    ("label_separator", "data.label_separator"),
    ("encoder", "model.encoder"),
    ("sequence_length", "model.sequence_length"),
    ("pooling", "model.pooling"),
    ("val_data", "data.validation_source"),
    ("batch_size", "data.batch_size"),
    ("seed", "data.seed"),
    ("balanced_sampling", "data.balanced_sampling"),
    ("skip_bad_files", "data.skip_bad_files"),
    ("backbone", "model.backbone"),
    ("image_size", "model.image_size"),
    ("resize", "model.resize"),
    ("head", "model.head"),
    ("prototype_metric", "model.prototype_metric"),
    ("prototype_temperature", "model.prototype_temperature"),
    ("epochs", "train.epochs"),
    ("feature_cache", "train.feature_cache"),
    ("feature_cache_dir", "train.feature_cache_dir"),
    ("augmented_views", "train.augmented_views"),
    ("jit_compile", "train.jit_compile"),
    ("label_smoothing", "train.label_smoothing"),
    ("class_weight", "train.class_weight"),
    ("weight_decay", "train.weight_decay"),
    ("early_stopping", "train.early_stopping"),
    ("mixup", "train.mixup"),
    ("cutmix", "train.cutmix"),
    ("deterministic", "train.deterministic"),
    ("strategy", "train.strategy"),
    ("mixed_precision", "model.mixed_precision"),
    ("fusion", "model.fusion.mode"),
    ("fusion_branch", "model.fusion.branch"),
    ("target_data", "data.target_source"),
    ("adapt", "train.adaptation.method"),
    ("adapt_alpha", "train.adaptation.alpha"),
    ("adapt_beta", "train.adaptation.beta"),
    ("align_weight", "train.adaptation.align_weight"),
    ("adapt_epochs", "train.adaptation.epochs"),
    ("target_labels_per_class", "train.adaptation.labels_per_class"),
    ("unlabeled", "data.unlabeled_source"),
    ("pseudo_label_threshold", "train.self_training.threshold"),
    ("self_training_rounds", "train.self_training.rounds"),
    ("pseudo_label_balance", "train.self_training.balance"),
    ("self_training_method", "train.self_training.method"),
    ("fixmatch_lambda_u", "train.self_training.lambda_u"),
    ("fixmatch_mu", "train.self_training.mu"),
)


def _stages_flag(text, epochs):
    """`--stages`, parsed; an error names the flag and the item of it that is wrong, as typed."""
    from tfl.config.stage import parse_stage
    from tfl.config.stage import parse_stages

    for item in (item.strip() for item in text.split(",")):
        try:
            if item:
                parse_stage(item, epochs=epochs)
        except ValueError as error:
            raise ValueError(f"--stages {text!r}, item {item!r}: {error}") from None
    return parse_stages(text, epochs=epochs)


def config_from_args(args):
    """The `Config` of a config file with the flags applied on top.

    A value a flag gave that its config key does not take is refused naming
    the flag and the value (`flag_error`)."""
    from tfl.config import Config
    from tfl.config import ConfigValueError

    config = Config.from_yaml(args.config) if args.config else Config()
    overrides = {}
    for flag, key in _FLAG_KEYS:
        value = getattr(args, flag)
        if value is not None:
            overrides[key] = list(value) if isinstance(value, tuple) else value
    if args.weights is not None:
        overrides["model.weights"] = arguments.weights_value(args.weights)
    if args.augment is not None:
        overrides["model.augmentation"] = args.augment
    if args.unlabeled is not None and config.train.self_training.method is None and args.self_training_method is None:
        overrides["train.self_training.method"] = "pseudo_label"
    if overrides:
        try:  # set in a config file's mapping before it is read, the flags win also over what it reads with them
            config = Config.from_yaml(args.config, overrides) if args.config else config.replace(**overrides)
        except ConfigValueError as error:
            raise flag_error(error, args) from None
    if args.plan is not None and args.stages:
        raise ValueError(
            "--plan and --stages both choose the stages: --plan a whole plan (default, fine_tune), --stages "
            f"each stage. Give one of them. Received: --plan {args.plan}, --stages {args.stages}"
        )
    if args.plan is not None:  # the flag overrides a config file's stages, as --stages does
        config = config.replace(**{"train.plan": args.plan, "train.stages": None})
    if args.stages:
        config = config.replace(**{"train.stages": _stages_flag(args.stages, config.train.epochs)})
    return config


def flag_option(dest):
    """The option of an argparse destination, e.g. "--adapt-alpha" for `adapt_alpha`."""
    return "--" + dest.replace("_", "-")


def flag_error(error, args):
    """A `ConfigValueError` of a key that a flag set, as a ValueError naming the flag and
    its value: "--adapt-alpha is a mixing weight in [0, 1]. Received: --adapt-alpha 2".
    An error of a key that no flag set is returned as it is."""
    for dest, key in _FLAG_KEYS:
        value = getattr(args, dest)
        if key == error.path and value is not None:
            option = flag_option(dest)
            return ValueError(error.named(option, f"{option} {_flag_text(value)}"))
    if error.section == "model.augmentation" and args.augment is not None:
        return ValueError(error.named(f"--augment {error.key}", f"--augment {error.key}={_flag_text(error.value)}"))
    return error


def _flag_text(value):
    """A flag's value as it is typed: 2.0 as "2", (240, 320) as "240x320", {"ants": 2.0} as "ants=2"."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{name}={_flag_text(weight)}" for name, weight in value.items())
    return str(value)


def run(args):
    from tfl.experiment import run_experiment
    from tfl.run_plan import plan_run

    plan = plan_run(config_from_args(args))
    model = plan.config.model
    name = model.backbone if plan.task == "image" else os.path.basename(model.encoder.rstrip("/"))
    output = args.output or os.path.join("runs", f"{name}-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    resume = "auto" if args.resume is None else args.resume
    verbose = arguments.keras_verbosity(args.verbose)
    result = run_experiment(plan, output, overwrite=args.overwrite, verbose=verbose, resume=resume, log=print)
    report = result.report
    auc = report["auc_roc"]
    print(
        f"\nHeld-out ({report['num_examples']} examples): accuracy {report['accuracy']:.4f}, "
        f"macro-F1 {report['macro_f1']:.4f}, AUC-ROC {'n/a' if auc is None else f'{auc:.4f}'}; "
        f"{report['seconds']:.1f} s"
    )
    if report.get("adaptation") is not None:
        before, after = report["adaptation"]["target_accuracy_before"], report["adaptation"]["target_accuracy_after"]
        if after is not None:
            print(f"Held-out target ({report['adaptation']['num_target_test']} examples): accuracy {before:.4f} "
                  f"before adapting, {after:.4f} after ({report['adaptation']['method']})")
    if report.get("self_training") is not None:
        from tfl.train.fixmatch import format_fixmatch
        from tfl.train.self_training import format_rounds

        record = report["self_training"]
        show = format_fixmatch if record.get("method") == "fixmatch" else format_rounds
        print(show(record, report["class_names"]))
    print(f"Wrote {os.path.join(output, 'model.keras')}, report.json, config.yaml")
    for name in report.get("plots", []):
        print(f"Plot: {os.path.join(output, name)}")
    return 0
