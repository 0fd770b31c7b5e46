"""Building the shipped language models; each module is a script or a part of one.

`python -m lm.training.train_model` makes lm/builtin/model, `python -m lm.training.make_tiny`
makes lm/builtin/tiny, `python -m lm.training.evaluate_samples` measures unconstrained sample
validity, and `python -m lm.training.corpus` prints the generated training corpus.
"""
