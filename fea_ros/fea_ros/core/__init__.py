"""Framework-free core: types, stages and the pipeline. Imports neither rclpy nor rosbags."""
