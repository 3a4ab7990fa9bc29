"""Pretrained weights shipped with dpzoo: ``*.safetensors`` files and their index."""
