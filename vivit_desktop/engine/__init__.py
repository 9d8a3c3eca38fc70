"""The analysis engine: sources, preprocessing, windows, predictor, results, export. No Qt."""

import os

# FFmpeg's own log (e.g. three lines per undecodable AV1 frame) and OpenCV's warnings (a camera
# index that does not exist, a stream timeout) would drown our one clear message; errors still
# reach the user through SourceError. Must be set before cv2 loads, hence here.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
