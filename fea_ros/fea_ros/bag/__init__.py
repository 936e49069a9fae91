"""rosbag2 replay and reports, with rosbags for all bag I/O."""
