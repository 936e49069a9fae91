"""The rclpy side of pipeline_node, one concern a module: its parameters (parameters.py), the camera input
(image_subscriber.py), the result topics (result_publisher.py), /diagnostics (diagnostics_publisher.py) and
signal handling (shutdown.py). What they decide is in the framework-free modules of fea_ros.ros."""
