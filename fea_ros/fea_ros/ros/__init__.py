"""The ROS 2 layer. Only pipeline_node imports rclpy; every other module here runs without ROS."""
