"""course_utils: the helper package shared by the notebooks of the course
"Image classification with deep learning, in Jupyter notebooks".

One module per concern (see CONTRIBUTING.md): ``config``, ``download``, ``data``, ``image_folders``,
``check_dataset``, ``folder_split``, ``pipeline``, ``plots``, ``models``, ``train``, ``evaluate``,
``explain``, ``transfer``, ``tuning``, ``artifacts``, and the course's commands ``run``, ``testing``,
``bench``, ``exercises``, ``colab``, ``record``.
"""

__version__ = "0.1.0"
