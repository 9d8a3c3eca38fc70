"""Training: the camera-motion clip generator, datasets, the trainer and evaluation."""

from .data import CAMERA_MOTION, CameraMotionClips, ClipFolder, DataError, class_folders, open_dataset
from .evaluate import Evaluation, evaluate
from .trainer import TrainError, TrainReport, TrainSettings, train

__all__ = ["CAMERA_MOTION", "CameraMotionClips", "ClipFolder", "DataError", "Evaluation", "TrainError",
           "TrainReport", "TrainSettings", "class_folders", "evaluate", "open_dataset", "train"]
