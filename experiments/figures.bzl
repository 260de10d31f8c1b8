"""The experiment binaries behind the paper's figures, named once for every BUILD file."""

FIGURES = [
    "fig1_logreg_synthetic",
    "fig2_logreg_text",
    "fig3_resnet_weight_decay",
    "fig4_hyper_cleaning",
    "fig4_linear",
]
