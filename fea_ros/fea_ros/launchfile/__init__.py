"""What launch/pipeline.launch.py decides, as plain functions: no launch, launch_ros or rclpy imports here, so
every rule (params-file sections, misspelt keys, the bag's camera topic, namespaces) is tested without ROS."""
