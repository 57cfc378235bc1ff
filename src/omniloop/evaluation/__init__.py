"""Feedback and evaluation (营销反馈, G1–G3): attribution of responses, live monitoring, uplift against
the control group with confidence intervals, ROI, experiments. See docs/design/evaluation.md."""
