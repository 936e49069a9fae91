"""The ROS 2 layer. Modules here import rclpy lazily so the rest of fea_ros works without ROS."""
