"""flchain.model"""
