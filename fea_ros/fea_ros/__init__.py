"""fea_ros: facial expression perception for ROS 2 (faces, macro-expressions, action units, micro-expressions)."""

__version__ = "0.1.0"
