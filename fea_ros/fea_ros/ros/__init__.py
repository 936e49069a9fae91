"""The ROS 2 layer. Only pipeline_node and its parts in ros/node/ import rclpy; every other module here runs without
ROS."""
