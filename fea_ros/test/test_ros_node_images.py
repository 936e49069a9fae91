"""The real pipeline_node over DDS: every image encoding and transport gives faces with the input stamps.

Real rclpy, real fea_ros_msgs, the real networks, scikit-image's astronaut photo. Rows padded by a number of
bytes that is not a whole pixel are the case cv_bridge gets wrong (vision_opencv#400); the node must not.
"""
import cv2
import numpy as np
import pytest

from ros_harness import (LOG_LEVELS, InProcessNode, compressed_message, image_message, reliable, stamp_ns,
                         values, wait_until)

START_NS = 1_700_000_000_000_000_000
PERIOD_NS = 33_333_333


def send_and_collect(peer, node, messages, compressed=False, timeout_s=60.0):
    """Publish each message after the previous one's result came back; the results by stamp."""
    from fea_ros_msgs.msg import FaceExpressionArray
    from sensor_msgs.msg import CompressedImage, Image

    faces = peer.collect(FaceExpressionArray, node.topic("faces"), reliable())
    publisher = peer.publisher(CompressedImage if compressed else Image,
                               node.topic("image/compressed" if compressed else "image"), reliable(2))
    peer.wait_for_subscriber(publisher)
    node.wait_reliable("the node to follow the reliable publisher")
    for msg in messages:
        publisher.publish(msg)
        wanted = stamp_ns(msg.header)
        wait_until(lambda: any(stamp_ns(m.header) == wanted for m in faces.snapshot()), timeout_s,
                   f"the faces result of the frame stamped {wanted}")
    return {stamp_ns(m.header): m for m in faces.snapshot()}


@pytest.mark.parametrize("encoding, padding", [
    ("bgr8", 0), ("rgb8", 0), ("mono8", 0), ("bgra8", 0), ("rgba8", 0),
    ("bgr8", 64), ("rgb8", 64), ("mono8", 7), ("bgra8", 64),  # padding that is not a whole pixel
])
def test_raw_images_give_faces_with_the_input_stamps(peer, astronaut, encoding, padding):
    node = InProcessNode(peer, f"img_{encoding}_{padding}", {"mie.enabled": False}).start()
    try:
        stamps = [START_NS + i * PERIOD_NS for i in range(3)]
        messages = [image_message(astronaut, encoding, stamp=s, frame_id="cam_optical", padding=padding)
                    for s in stamps]
        results = send_and_collect(peer, node, messages)
        assert sorted(results) == stamps  # one result per frame, each with its frame's stamp
        last = results[stamps[-1]]
        assert last.header.frame_id == "cam_optical"
        assert (last.image_width, last.image_height) == (astronaut.shape[1], astronaut.shape[0])
        assert len(last.faces) == 1, f"{encoding} with {padding} bytes of row padding: no face"
        assert [results[s].frame_index for s in stamps] == [0, 1, 2]  # counts processed frames
        roi = last.faces[0].roi
        assert 150 <= roi.x_offset + roi.width / 2 <= 300 and 60 <= roi.y_offset + roi.height / 2 <= 200
    finally:
        node.close()


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_compressed_images_give_faces(peer, astronaut, fmt):
    node = InProcessNode(peer, f"img_compressed_{fmt}", {"input_transport": "compressed", "mie.enabled": False}).start()
    try:
        stamps = [START_NS + i * PERIOD_NS for i in range(3)]
        results = send_and_collect(peer, node, [compressed_message(astronaut, fmt, stamp=s) for s in stamps],
                                   compressed=True)
        assert sorted(results) == stamps and len(results[stamps[-1]].faces) == 1
        assert results[stamps[-1]].faces[0].expression == "happy"  # the smiling astronaut
    finally:
        node.close()


def test_diagnostics_report_rates_latency_backend_and_models(peer, astronaut):
    node = InProcessNode(peer, "img_diag", {"mie.enabled": False}).start()
    try:
        stamps = [START_NS + i * PERIOD_NS for i in range(5)]
        send_and_collect(peer, node, [image_message(astronaut, stamp=s) for s in stamps])
        status = wait_until(lambda: (s := node.status()) is not None and values(s).get("frames processed") == "5" and s,
                            10, "a /diagnostics status counting the 5 frames")
        kv = values(status)
        assert kv["backend"] == "onnxruntime" and kv["model detector"] == "blazeface_full_192"
        assert kv["input topic"] == node.topic("image") and kv["rejected images"] == "0"
        assert kv["latency p50"].endswith(" ms") and kv["models folder"].endswith("models")
    finally:
        node.close()


def test_stamp_clock_mismatch_and_stamp_zero_are_said_once(peer, astronaut):
    node = InProcessNode(peer, "img_clock", {"mie.enabled": False}).start()
    try:
        old = 1_000_000_000  # 1 s after the epoch: a bag played without --clock
        send_and_collect(peer, node, [image_message(astronaut, stamp=old + i * PERIOD_NS) for i in range(2)])
        clock = wait_until(lambda: [t for t in node.logs(LOG_LEVELS["WARN"]) if "node's wall clock" in t], 10, "clock")
        assert len(clock) == 1 and "--clock" in clock[0] and "use_sim_time" in clock[0]
        send_and_collect(peer, node, [image_message(astronaut, stamp=0, frame_id="") for _ in range(1)])
        wait_until(lambda: any("went backwards" in t for t in node.logs(LOG_LEVELS["WARN"])), 10, "backwards note")
        warnings = node.logs(LOG_LEVELS["WARN"])
        assert len([t for t in warnings if "stamp is zero" in t]) == 1
        assert len([t for t in warnings if "frame_id is empty" in t]) == 1
        assert len([t for t in warnings if "went backwards" in t]) == 1
    finally:
        node.close()


def test_a_micro_and_a_macro_expression_come_out_as_events(peer):
    """A synthetic clip of the astronaut (known movements) through the node: MicroExpressionEvent messages."""
    from fea_ros.core.detection import FaceDetector
    from fea_ros.core.config import PipelineConfig
    from fea_ros.core.landmarks import FaceMesh, mesh_model, roi_from_detection, roi_from_landmarks
    from fea_ros.inference.factory import create_engine
    from fea_ros.inference.models import Manifest
    from fea_ros.mie.synthetic import ClipSpec, FaceAnimator, HeadMotion, Movement
    from fea_ros.ros.messages import stamp_ns as time_ns
    from fea_ros_msgs.msg import MicroExpressionEvent
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    skimage_data = pytest.importorskip("skimage.data", reason="the astronaut photo comes from scikit-image")
    photo = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    config, manifest = PipelineConfig(), Manifest(None)
    detector = FaceDetector(create_engine("blazeface_full_192", config.inference, manifest), config.detection)
    mesh_net = FaceMesh(create_engine(mesh_model("v2")[0], config.inference, manifest), config.landmarks)
    mesh = mesh_net(photo, roi_from_detection(detector(photo)[0], config.landmarks.crop_scale))
    mesh = mesh_net(photo, roi_from_landmarks(mesh.points, config.landmarks.crop_scale)).points[:468, :2]
    animator = FaceAnimator(photo, mesh)
    fps, seconds = 30.0, 5.0
    movements = [Movement("brow_raise", 1.8, 1.95, 2.15, 3.0, "MICRO"),
                 Movement("lip_corner_pull", 3.0, 3.5, 4.4, 8.0, "MACRO", hold_s=0.2)]
    rng = np.random.default_rng(3)
    spec = ClipSpec("node", fps, seconds, movements, HeadMotion(translation_px=(4.0, 3.0), rotation_deg=3.0, scale=0.02,
                                                                 phases=rng.uniform(0, 6.3, (4, 3))),
                    scale=110.0 / animator.interocular, frame_size=(480, 360), noise_sigma=1.0, jpeg_quality=95,
                    landmark_jitter_px=0.0)
    frames = [animator.render(spec, i, rng)[0] for i in range(int(fps * seconds))]

    node = InProcessNode(peer, "img_mie", {}).start()
    events = peer.collect(MicroExpressionEvent, node.topic("micro_expressions"),
                          QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))
    try:
        stamps = [START_NS + int(round(i * 1e9 / fps)) for i in range(len(frames))]
        results = send_and_collect(peer, node, [image_message(f, stamp=s) for f, s in zip(frames, stamps)])
        assert len(results) == len(frames)
        face_ids = {face.face_id for m in results.values() for face in m.faces}
        wait_until(lambda: len(events.snapshot()) >= 1, 10, "a MicroExpressionEvent")
        got = events.snapshot()
        for event in got:
            assert event.face_id in face_ids and event.header.frame_id == "camera_optical"
            onset, apex, offset = (time_ns(t) for t in (event.onset, event.apex, event.offset))
            assert stamps[0] <= onset <= apex <= offset <= stamps[-1] and stamp_ns(event.header) == apex
        macro = [e for e in got if e.type == "MACRO"]
        assert macro, [(e.type, e.regions) for e in got]
        onset_s = (time_ns(macro[0].onset) - START_NS) / 1e9
        assert 2.7 <= onset_s <= 3.6 and {"mouth_corner_left", "mouth_corner_right"} & set(macro[0].regions)
    finally:
        node.close()


def test_use_sim_time_without_clock_is_said(peer, astronaut):
    node = InProcessNode(peer, "img_simtime", {"mie.enabled": False, "use_sim_time": True}).start()
    try:
        send_and_collect(peer, node, [image_message(astronaut, stamp=START_NS)])
        wait_until(lambda: any("no /clock has arrived" in t for t in node.logs(LOG_LEVELS["WARN"])), 10, "/clock note")
    finally:
        node.close()


def hri_messages():
    try:
        import hri_msgs.msg as hri_msgs
    except ImportError:
        return None
    return hri_msgs


def test_without_hri_msgs_the_node_says_so_once_and_goes_on(peer, astronaut):
    if hri_messages() is not None:
        pytest.skip("hri_msgs is installed: the REP-155 test below runs instead")
    node = InProcessNode(peer, "img_no_hri", {"mie.enabled": False, "hri.enabled": True}).start()
    try:
        results = send_and_collect(peer, node, [image_message(astronaut, stamp=START_NS + i * PERIOD_NS) for i in range(3)])
        assert len(results[START_NS + 2 * PERIOD_NS].faces) == 1
        warnings = node.wait_log(lambda t: "hri_msgs does not import" in t, LOG_LEVELS["WARN"])
        assert len(warnings) == 1 and "ros-$ROS_DISTRO-hri-msgs" in warnings[0]
    finally:
        node.close()


def test_rep155_tracked_ids_follow_the_faces(peer, astronaut):
    hri_msgs = hri_messages()
    if hri_msgs is None:
        pytest.skip("hri_msgs does not import (no PyPI wheel): REP-155 publishing is checked on a ROS install")
    node = InProcessNode(peer, "img_hri", {"mie.enabled": False, "hri.enabled": True}).start()
    try:
        ids = peer.collect(hri_msgs.IdsList, "/humans/faces/tracked", reliable())
        send_and_collect(peer, node, [image_message(astronaut, stamp=START_NS + i * PERIOD_NS) for i in range(3)])
        wait_until(lambda: any(len(m.ids) == 1 for m in ids.snapshot()), 10, "/humans/faces/tracked with the face")
    finally:
        node.close()


def test_frame_pipeline_gives_every_frame_its_own_result(peer, astronaut):
    """inference.frame_pipeline: detection + mesh and the later stages on two workers, results as without."""
    results = {}
    for pipelined in (False, True):
        node = InProcessNode(peer, f"img_frame_pipeline_{pipelined}", {"inference.frame_pipeline": pipelined}).start()
        try:
            stamps = [START_NS + i * PERIOD_NS for i in range(4)]
            results[pipelined] = send_and_collect(peer, node, [image_message(astronaut, stamp=s) for s in stamps])
            assert sorted(results[pipelined]) == stamps
            assert [results[pipelined][s].frame_index for s in stamps] == [0, 1, 2, 3]
        finally:
            node.close()
    for stamp, sequential in results[False].items():
        pipelined_faces = results[True][stamp].faces
        assert [(f.face_id, f.expression, f.roi.x_offset, f.roi.width) for f in pipelined_faces] == \
            [(f.face_id, f.expression, f.roi.x_offset, f.roi.width) for f in sequential.faces]
    assert len(results[True][stamps[-1]].faces) == 1
