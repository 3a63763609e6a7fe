"""Clips of frames for training and evaluation: layouts, storage back-ends, degradations, sampling."""
